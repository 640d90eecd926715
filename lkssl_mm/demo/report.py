"""The demo report: report.json, report.md, PNG plots and a printed table."""
import json
import os.path as osp
from typing import Dict, List, Optional, Tuple

#: (label, step kind, metric key, scale to percent)
METRICS: List[Tuple[str, str, str, float]] = [
    ('kNN top-1 (k=20) %', 'knn', 'knn/top1_k20', 1.0),
    ('linear top-1 %', 'linear', 'accuracy/top1', 1.0),
    ('Mask R-CNN box AP', 'detection', 'coco/bbox_mAP', 100.0),
    ('Mask R-CNN mask AP', 'detection', 'coco/segm_mAP', 100.0),
    ('UperNet mIoU %', 'segmentation', 'mIoU', 1.0),
    ('ERF area at 50 % (stage 3)', 'erf', 't50', 1.0),
]


def metric_value(backbone: dict, kind: str, key: str, scale: float):
    """A metric of one backbone, or None if that step did not run for it."""
    result = backbone.get(kind)
    if result is None:
        return None
    if kind == 'erf':
        return round(result['area_ratio'][key], 4)
    return round(float(result[key]) * scale, 2)


def seed_values(backbone: dict, kind: str, key: str, scale: float) -> Optional[List[float]]:
    """The metric of each fine-tuning seed, or None for a step run once (kNN, ERF)."""
    runs = (backbone.get(kind) or {}).get('seeds')
    if runs is None:
        return None
    return [round(float(run[key]) * scale, 2) for run in runs]


def _cell(backbone: dict, kind: str, key: str, scale: float) -> str:
    """A table cell: the value, or the seeds' mean and range."""
    value = metric_value(backbone, kind, key, scale)
    if value is None:
        return '-'
    seeds = seed_values(backbone, kind, key, scale)
    if seeds is None or len(seeds) < 2:
        return f'{value:g}'
    return f'{value:g} ({min(seeds):g}-{max(seeds):g})'


def table_rows(results: dict) -> List[List[str]]:
    names = list(results['backbones'])
    rows = [['metric'] + names]
    for label, kind, key, scale in METRICS:
        rows.append([label] + [_cell(results['backbones'][n], kind, key, scale) for n in names])
    return rows


def _compare(first: dict, second: dict, kind: str, key: str, scale: float,
             names: Tuple[str, str]) -> Optional[dict]:
    """``first`` vs ``second`` on one metric (seed means) and their difference.

    With two or more fine-tuning seeds, ``beyond_seed_spread`` says whether every seed
    of ``first`` beat every seed of ``second``; it is None when no spread was measured.
    """
    a, b = (metric_value(x, kind, key, scale) for x in (first, second))
    if a is None or b is None:
        return None
    out = {names[0]: a, names[1]: b, 'delta': round(a - b, 2), 'better': a > b,
           'beyond_seed_spread': None}
    seeds_a, seeds_b = (seed_values(x, kind, key, scale) for x in (first, second))
    if seeds_a and seeds_b and min(len(seeds_a), len(seeds_b)) > 1:
        out.update({f'{names[0]}_seeds': seeds_a, f'{names[1]}_seeds': seeds_b,
                    'beyond_seed_spread': min(seeds_a) > max(seeds_b)})
    return out


def comparisons(results: dict) -> Dict[str, dict]:
    """Pre-trained vs random init (per kernel) and large vs small kernel, metric by metric."""
    small, large = results['kernels']
    backbones = results['backbones']
    out = {'pretrained_vs_random': {str(k): {} for k in results['kernels']},
           'large_vs_small_kernel': {}}
    for label, kind, key, scale in METRICS:
        if kind == 'erf':
            continue
        for kernel in results['kernels']:
            compared = _compare(backbones[f'dino_k{kernel}'], backbones[f'random_k{kernel}'],
                                kind, key, scale, ('pretrained', 'random'))
            if compared:
                out['pretrained_vs_random'][str(kernel)][label] = compared
        compared = _compare(backbones[f'dino_k{large}'], backbones[f'dino_k{small}'], kind,
                            key, scale, ('large', 'small'))
        if compared:
            out['large_vs_small_kernel'][label] = compared
    return out


def _tally(compared: Dict[str, dict]) -> Tuple[List[str], str]:
    """Metrics where the first side was better; each signed difference (``*``: every seed)."""
    wins = [k for k, v in compared.items() if v['better']]
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


def conclusions(results: dict, compared: dict) -> List[str]:
    small, large = results['kernels']
    lines = []
    for kernel, pvr in compared['pretrained_vs_random'].items():
        wins, detail = _tally(pvr)
        lines.append(f'DINO pre-training vs random initialisation, {kernel}x{kernel} kernels: '
                     f'better on {len(wins)} of {len(pvr)} metrics ({detail}){_spread_note(pvr)}.')
    lvs = compared['large_vs_small_kernel']
    helped, detail = _tally(lvs)
    verdict = 'helped' if len(helped) > len(lvs) / 2 else 'did not help'
    lines.append(f'The larger kernel ({large}x{large} vs {small}x{small}, same recipe and '
                 f'budget) {verdict}: better on {len(helped)} of {len(lvs)} metrics ({detail})'
                 f'{_spread_note(lvs)}.')
    seeds = results.get('finetune_seeds', 1)
    if seeds < 2:
        lines.append('One fine-tuning seed: its spread is not measured, and on this small '
                     'generated data it is several points of box AP (docs/demo.md); run with '
                     '--finetune-seeds 3 before reading a difference as a result.')
    else:
        lines.append(f'Fine-tuned metrics are means of {seeds} seeds (range in brackets); '
                     'kNN uses no seed. Pre-training itself ran once per kernel.')
    return lines


def plot(results: dict, plot_dir: str) -> Dict[str, str]:
    """Loss curves, kNN vs kernel size and an ERF panel; returns their paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt
    paths = {}
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    for kernel, pairs in results['pretrain_losses'].items():
        if pairs:
            ax.plot([p[0] for p in pairs], [p[1] for p in pairs], label=f'k={kernel}')
    ax.set_xlabel('iteration')
    ax.set_ylabel('DINO loss')
    ax.legend()
    paths['losses'] = _save_figure(fig, osp.join(plot_dir, 'pretrain_loss.png'))

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    kernels = results['kernels']
    for offset, prefix in ((-0.2, 'dino'), (0.2, 'random')):
        values = [metric_value(results['backbones'][f'{prefix}_k{k}'], 'knn', 'knn/top1_k20', 1)
                  for k in kernels]
        ax.bar([i + offset for i in range(len(kernels))], values, width=0.4,
               label='DINO' if prefix == 'dino' else 'random init')
    ax.set_xticks(range(len(kernels)))
    ax.set_xticklabels([f'{k}x{k}' for k in kernels])
    ax.set_xlabel('depthwise kernel')
    ax.set_ylabel('kNN top-1 (%)')
    ax.legend()
    paths['knn'] = _save_figure(fig, osp.join(plot_dir, 'knn_vs_kernel.png'))

    names = [n for n, b in results['backbones'].items() if b.get('erf')]
    fig, axes = plt.subplots(1, len(names), figsize=(3 * len(names), 3.2), dpi=110)
    for ax, name in zip(list(axes) if len(names) > 1 else [axes], names):
        ax.imshow(mpimg.imread(results['backbones'][name]['erf']['heatmap']))
        ax.set_title(name, fontsize=9)
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


def markdown_table(rows: List[List[str]]) -> str:
    lines = ['| ' + ' | '.join(rows[0]) + ' |', '|' + '---|' * len(rows[0])]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows[1:]]
    return '\n'.join(lines)


def write_report(results: dict, work_dir: str) -> dict:
    """Write report.json, report.md and the plots; print the table.

    Returns:
        dict: The report (also in report.json).
    """
    plot_dir = osp.join(work_dir, 'plots')
    compared = comparisons(results)
    report = dict(results, comparisons=compared, conclusions=conclusions(results, compared),
                  plots=plot(results, plot_dir))
    with open(osp.join(work_dir, 'report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    rows = table_rows(results)
    steps = '\n'.join(f'| {name} | {seconds:.0f} |'
                      for name, seconds in results['step_seconds'].items())
    text = f"""# lkssl_mm demo report ({results['size']}, {results['device']})

DINO pre-training of the demo LKConvNeXt with {results['kernels'][0]}x{results['kernels'][0]}
and {results['kernels'][1]}x{results['kernels'][1]} kernels (same recipe and budget) on the
generated data, then kNN, linear probe, Mask R-CNN and UperNet; `random_k*` are the same
backbones at random initialisation.

{markdown_table(rows)}

## Conclusions
{chr(10).join('- ' + line for line in report['conclusions'])}

## Plots
![pre-training loss](plots/pretrain_loss.png)
![kNN vs kernel size](plots/knn_vs_kernel.png)
![effective receptive fields](plots/erf_panel.png)

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
