"""The demo report: report.json, report.md, plots and a printed table.

One row per backbone, as the paper's tables: size, pre-training throughput and
every task's metrics, each as "DINO / random init". The comparisons and the
sentences that state them are computed from those numbers (nothing about the
results is written in advance): each backbone against its random
initialisation, and the pairs of :data:`~demo_pipeline.table.COMPARISONS`
(kernel size, CNN vs Transformer), with the fine-tuning seed spread where
more than one seed ran.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from .table import COMPARISONS, TASKS, Comparison, Metric, Task, by_name

#: Tasks evaluated for every initialisation, in column order, and their metrics.
INIT_TASKS: Tuple[Task, ...] = tuple(t for t in TASKS if t.scope == 'init')


def _task_result(backbone: dict, init: Optional[str], task: str) -> Optional[dict]:
    if init is None:
        return backbone.get(task)
    return (backbone.get('inits', {}).get(init) or {}).get(task)


def metric_value(backbone: dict, init: Optional[str], task: str, metric: Metric):
    """A metric of one backbone (at ``init``), scaled and rounded; None if not measured."""
    result = _task_result(backbone, init, task)
    if result is None or result.get(metric.key) is None:
        return None
    return round(float(result[metric.key]) * metric.scale, metric.digits)


def seed_values(backbone: dict, init: str, task: str, metric: Metric) -> Optional[List[float]]:
    """The metric of each fine-tuning seed, or None for a task run once."""
    runs = (_task_result(backbone, init, task) or {}).get('seeds')
    if runs is None:
        return None
    return [round(float(run[metric.key]) * metric.scale, metric.digits) for run in runs]


def _value_text(backbone: dict, init: str, task: str, metric: Metric) -> str:
    value = metric_value(backbone, init, task, metric)
    if value is None:
        return '-'
    seeds = seed_values(backbone, init, task, metric)
    if seeds is None or len(seeds) < 2:
        return f'{value:g}'
    return f'{value:g} ({min(seeds):g}-{max(seeds):g})'


def table_rows(results: dict) -> List[List[str]]:
    """The main table: a header and one row per backbone; task cells read "DINO / random"."""
    header = ['backbone', 'family', 'params (M)', 'GFLOPs (64 px)', 'pre-train img/s']
    header += [m.label for task in INIT_TASKS for m in task.metrics]
    complexity = by_name(TASKS, 'complexity', 'task')
    rows = [header]
    for backbone in results['backbones'].values():
        row = [backbone['label'], backbone['family']]
        row += [_value_text(backbone, None, 'complexity', m) for m in complexity.metrics]
        speed = (backbone.get('pretrain') or {}).get('images_per_second')
        row.append('-' if speed is None else f'{speed:g}')
        for task in INIT_TASKS:
            for metric in task.metrics:
                row.append(' / '.join(_value_text(backbone, init, task.name, metric)
                                      for init in ('dino', 'random')))
        rows.append(row)
    return rows


def compare(first: dict, second: dict, task: str, metric: Metric, names: Tuple[str, str],
            inits: Tuple[str, str]) -> Optional[dict]:
    """``first`` vs ``second`` on one metric (seed means) and their difference.

    With two or more fine-tuning seeds on both sides, ``beyond_seed_spread`` says
    whether every seed of ``first`` beat every seed of ``second``; it is None
    when no spread was measured.
    """
    a = metric_value(first, inits[0], task, metric)
    b = metric_value(second, inits[1], task, metric)
    if a is None or b is None:
        return None
    out = {names[0]: a, names[1]: b, 'delta': round(a - b, metric.digits), 'better': a > b,
           'beyond_seed_spread': None}
    seeds_a = seed_values(first, inits[0], task, metric)
    seeds_b = seed_values(second, inits[1], task, metric)
    if seeds_a and seeds_b and min(len(seeds_a), len(seeds_b)) > 1:
        out.update({f'{names[0]}_seeds': seeds_a, f'{names[1]}_seeds': seeds_b,
                    'beyond_seed_spread': min(seeds_a) > max(seeds_b)})
    return out


def _compare_all(first: dict, second: dict, names: Tuple[str, str],
                 inits: Tuple[str, str]) -> Dict[str, dict]:
    out = {}
    for task in INIT_TASKS:
        for metric in task.metrics:
            if metric.compare:
                compared = compare(first, second, task.name, metric, names, inits)
                if compared:
                    out[metric.label] = compared
    return out


def comparisons(results: dict, pairs: Sequence[Comparison] = COMPARISONS) -> dict:
    """Each backbone vs its random init; each pair of :data:`COMPARISONS` (both DINO)."""
    backbones = results['backbones']
    out = dict(pretrained_vs_random={
        name: _compare_all(b, b, ('pretrained', 'random'), ('dino', 'random'))
        for name, b in backbones.items()}, backbones=[])
    for pair in pairs:
        if pair.first in backbones and pair.second in backbones:
            out['backbones'].append(dict(
                first=pair.first, second=pair.second, question=pair.question,
                metrics=_compare_all(backbones[pair.first], backbones[pair.second],
                                     ('first', 'second'), ('dino', 'dino'))))
    return out


def _tally(compared: Dict[str, dict]) -> Tuple[int, str]:
    """How many metrics the first side won; each signed difference (``*``: every seed)."""
    wins = sum(v['better'] for v in compared.values())
    return wins, '; '.join(f'{k} {v["delta"]:+g}{"*" if v["beyond_seed_spread"] else ""}'
                           for k, v in compared.items())


def _spread_note(compared: Dict[str, dict]) -> str:
    """How many seeded metrics were better for every seed, or '' without a measured spread."""
    seeded = [v for v in compared.values() if v['beyond_seed_spread'] is not None]
    if not seeded:
        return ''
    clear = sum(v['beyond_seed_spread'] for v in seeded)
    return (f'; beyond the fine-tuning seed spread (*: every seed better) on {clear} of '
            f'{len(seeded)} fine-tuned metrics')


def verdict(wins: int, total: int) -> str:
    """'ahead' on most metrics, 'behind' on most, else 'level'."""
    if 2 * wins > total:
        return 'ahead'
    if 2 * wins < total:
        return 'behind'
    return 'level'


def conclusions(results: dict, compared: dict) -> List[str]:
    """Sentences stating the comparisons, each computed from the numbers."""
    backbones = results['backbones']
    lines = []
    for name, pvr in compared['pretrained_vs_random'].items():
        wins, detail = _tally(pvr)
        lines.append(f'{backbones[name]["label"]}, DINO vs random initialisation: '
                     f'{verdict(wins, len(pvr))}, better on {wins} of {len(pvr)} metrics '
                     f'({detail}){_spread_note(pvr)}.')
    for pair in compared['backbones']:
        wins, detail = _tally(pair['metrics'])
        first, second = backbones[pair['first']]['label'], backbones[pair['second']]['label']
        question = pair['question'][:1].upper() + pair['question'][1:]
        lines.append(f'{question}: {first} vs {second} (both DINO, '
                     f'same recipe and budget): {first} {verdict(wins, len(pair["metrics"]))}'
                     f', better on {wins} of {len(pair["metrics"])} metrics ({detail})'
                     f'{_spread_note(pair["metrics"])}.')
    lines += collapse_notes(results)
    headline = paper_question(results, compared)
    if headline:
        lines.insert(0, headline)
    if results.get('seeds', 1) < 2:
        lines.append('One fine-tuning seed: its spread is not measured, and on this small '
                     'generated data it is several points of box AP (docs/demo.md); run with '
                     '--finetune-seeds 3 before reading a difference as a result.')
    else:
        lines.append(f'Fine-tuned metrics are means of {results["seeds"]} seeds (range in '
                     'brackets); k-NN and the ERF use no seed. Pre-training ran once per '
                     'backbone.')
    return lines


def collapse_notes(results: dict) -> List[str]:
    """What DINO's collapse monitor said during each backbone's pre-training.

    A backbone whose result does not record it (an older state file) is left out.
    """
    warned, quiet = [], []
    for b in results['backbones'].values():
        warnings = b.get('pretrain', {}).get('collapse_warnings')
        if warnings is None:
            continue
        if not warnings:
            quiet.append(b['label'])
            continue
        kinds = sorted({kind for _, kind in warnings})
        warned.append(f'{b["label"]}\'s pre-training: {len(warnings)} warning(s) of '
                      f'{" and ".join(kinds)} teacher output, from iteration '
                      f'{warnings[0][0]} to {warnings[-1][0]}; its DINO results come from '
                      'that teacher')
    lines = [f'Collapse monitor (CollapseMonitorHook): {note}.' for note in warned]
    if quiet:
        lines.append('Collapse monitor: no warning during the pre-training of '
                     f'{", ".join(quiet)}.')
    return lines


def paper_question(results: dict, compared: dict) -> Optional[str]:
    """The paper's question, answered from the CNN-vs-Transformer comparisons.

    Does the CNN with the largest kernel match the Transformers under one SSL
    recipe, and did the larger kernel move the CNN towards or past them?
    """
    backbones = results['backbones']
    cnns = sorted((b['kernel'], name) for name, b in backbones.items()
                  if b['family'] == 'CNN' and b.get('kernel'))
    if not cnns:
        return None
    wins = {}
    for pair in compared['backbones']:
        if backbones[pair['second']]['family'] == 'Transformer' and \
                backbones[pair['first']]['family'] == 'CNN':
            won, _ = _tally(pair['metrics'])
            wins[(pair['first'], pair['second'])] = (won, len(pair['metrics']))
    large = cnns[-1][1]
    against = {t: w for (c, t), w in wins.items() if c == large}
    if not against:
        return None
    relation = {'ahead': 'ahead of', 'behind': 'behind', 'level': 'level with'}
    parts = [f'{relation[verdict(*w)]} {backbones[t]["label"]} ({w[0]} of {w[1]} metrics '
             'better)' for t, w in against.items()]
    line = (f'The paper\'s question, large-kernel CNN vs Transformers under one DINO recipe '
            f'and budget: {backbones[large]["label"]} was ' + ' and '.join(parts))
    small = cnns[0][1]
    if small != large:
        before = sum(wins.get((small, t), (0, 0))[0] for t in against)
        after = sum(w[0] for w in against.values())
        amount = ('more metrics than' if after > before else
                  'fewer metrics than' if after < before else 'as many metrics as')
        line += (f'; against the same Transformers it won {amount} '
                 f'{backbones[small]["label"]} ({after} vs {before})')
    return line + '.'


# ----------------------------------------------------------------------------- plots
def plot(results: dict, plot_dir: str) -> Dict[str, str]:
    """Loss and k-NN curves of pre-training, k-NN per backbone, an ERF panel; their paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt
    os.makedirs(plot_dir, exist_ok=True)
    backbones = results['backbones']
    knn_metric = by_name(TASKS, 'knn', 'task').metrics[0]
    paths = {}
    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=110)
    for backbone in backbones.values():
        pairs = (backbone.get('pretrain') or {}).get('losses') or []
        ax.plot([p[0] for p in pairs], [p[1] for p in pairs], label=backbone['label'])
    ax.set_xlabel('iteration')
    ax.set_ylabel('DINO loss')
    ax.legend(fontsize=8)
    paths['losses'] = _save_figure(fig, osp.join(plot_dir, 'pretrain_loss.png'))

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=110)
    for backbone in backbones.values():
        pairs = (backbone.get('pretrain') or {}).get('knn') or []
        line, = ax.plot([p[0] for p in pairs], [p[1] for p in pairs], marker='o',
                        label=backbone['label'])
        random = metric_value(backbone, 'random', 'knn', knn_metric)
        if random is not None:
            ax.axhline(random, color=line.get_color(), linestyle=':', linewidth=1)
    ax.set_xlabel('pre-training epoch')
    ax.set_ylabel('teacher k-NN top-1 % (dotted: random init)')
    ax.legend(fontsize=8)
    paths['knn_curves'] = _save_figure(fig, osp.join(plot_dir, 'pretrain_knn.png'))

    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=110)
    names = list(backbones)
    for offset, init, label in ((-0.2, 'dino', 'DINO'), (0.2, 'random', 'random init')):
        values = [metric_value(backbones[n], init, 'knn', knn_metric) or 0 for n in names]
        ax.bar([i + offset for i in range(len(names))], values, width=0.4, label=label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([backbones[n]['label'] for n in names], fontsize=8)
    ax.set_ylabel('k-NN top-1 %')
    ax.legend(fontsize=8)
    paths['knn'] = _save_figure(fig, osp.join(plot_dir, 'knn_per_backbone.png'))

    panels = [(f'{init} {b["label"]}', result['heatmap'])
              for b in backbones.values() for init, tasks in b['inits'].items()
              for result in [tasks.get('erf') or {}] if result.get('heatmap')]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9), dpi=110,
                                 squeeze=False)
        for ax, (title, path) in zip(axes[0], panels):
            ax.imshow(mpimg.imread(path))
            ax.set_title(title, fontsize=8)
            ax.axis('off')
        paths['erf'] = _save_figure(fig, osp.join(plot_dir, 'erf_panel.png'))
    return paths


def _save_figure(fig, path: str) -> str:
    """Lay out, save and close a matplotlib figure; returns ``path``."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- text
def markdown_table(rows: List[List[str]]) -> str:
    lines = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows[1:]]
    return '\n'.join(lines)


def _erf_note(results: dict) -> str:
    measured = [f'{b["label"]}: {b["erf_map"]}' for b in results['backbones'].values()
                if b['erf_map']]
    undefined = [b['label'] for b in results['backbones'].values() if not b['erf_map']]
    note = 'ERF: area ratio holding 50 % of the effective receptive field (RepLKNet\'s ' \
        'method, 16 validation images at 128 px), measured on ' + '; '.join(measured)
    if undefined:
        note += f'; not defined for {", ".join(undefined)} (no spatial feature map)'
    return note + '.'


def _setup_text(results: dict) -> str:
    lengths = results['lengths']
    units = {t.name: t.length for t in TASKS if t.length}
    budget = ', '.join(f'{name} {lengths[name]} {units[name]}' for name in lengths)
    machine = results['machine']
    return (f'Every backbone is pre-trained with the same DINO recipe and budget on the '
            f'generated data, then evaluated from its DINO teacher and from its own random '
            f'initialisation (cells: DINO / random). Run lengths: {budget}; fine-tuning '
            f'seeds: {results["seeds"]}. Machine: {machine["device"]}, '
            f'{machine["cpu_count"]} CPU cores, {machine["torch_threads"]} torch threads; '
            'pre-training img/s counts source images (each gives 2 global and 4 local crops), '
            'data loading included, the k-NN monitor excluded.' + _skipped_text(results))


def _skipped_text(results: dict) -> str:
    skipped = results.get('random_skipped') or []
    if not skipped:
        return ''
    return (f' Not run from random initialisation at this size, to fit its time budget: '
            f'{", ".join(skipped)} (the random cells read "-", and the DINO-vs-random '
            'comparisons leave them out).')


def write_report(results: dict, work_dir: str) -> dict:
    """Write report.json, report.md and the plots; print the table and conclusions.

    Returns:
        dict: The report (also in report.json).
    """
    compared = comparisons(results)
    report = dict(results, comparisons=compared, conclusions=conclusions(results, compared),
                  plots=plot(results, osp.join(work_dir, 'plots')))
    with open(osp.join(work_dir, 'report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    rows = table_rows(results)
    steps = '\n'.join(f'| {name} | {seconds:.0f} |'
                      for name, seconds in results['step_seconds'].items())
    images = '\n'.join(f'![{name}](plots/{osp.basename(path)})'
                       for name, path in report['plots'].items())
    text = f"""# lkssl_mm demo report ({results['size']})

{_setup_text(results)}

{markdown_table(rows)}

{_erf_note(results)}

## Conclusions
{chr(10).join('- ' + line for line in report['conclusions'])}

## Plots
{images}

## Wall time per step (total {results['total_seconds']:.0f} s)
| step | seconds |
|---|---|
{steps}
"""
    with open(osp.join(work_dir, 'report.md'), 'w') as f:
        f.write(text)
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print('\n'.join('  '.join(c.ljust(w) for c, w in zip(r, width)) for r in rows))
    for line in report['conclusions']:
        print('- ' + line)
    print(f'report: {osp.join(work_dir, "report.md")}')
    return report

