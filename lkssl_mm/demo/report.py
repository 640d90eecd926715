"""The demo report: report.json, report.md, PNG plots and a printed table."""
import json
import os.path as osp
from typing import Dict, List, Tuple

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


def table_rows(results: dict) -> List[List[str]]:
    names = list(results['backbones'])
    rows = [['metric'] + names]
    for label, kind, key, scale in METRICS:
        values = [metric_value(results['backbones'][n], kind, key, scale) for n in names]
        rows.append([label] + ['-' if v is None else f'{v:g}' for v in values])
    return rows


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
            dino = metric_value(backbones[f'dino_k{kernel}'], kind, key, scale)
            random = metric_value(backbones[f'random_k{kernel}'], kind, key, scale)
            if dino is not None and random is not None:
                out['pretrained_vs_random'][str(kernel)][label] = dict(
                    pretrained=dino, random=random, delta=round(dino - random, 2),
                    better=dino > random)
        dino_large = metric_value(backbones[f'dino_k{large}'], kind, key, scale)
        dino_small = metric_value(backbones[f'dino_k{small}'], kind, key, scale)
        if dino_large is not None and dino_small is not None:
            out['large_vs_small_kernel'][label] = dict(
                large=dino_large, small=dino_small, delta=round(dino_large - dino_small, 2),
                better=dino_large > dino_small)
    return out


def _tally(compared: Dict[str, dict]) -> Tuple[List[str], str]:
    """Metrics where the first side was better, and each metric's signed difference."""
    wins = [k for k, v in compared.items() if v['better']]
    return wins, '; '.join(f'{k} {v["delta"]:+g}' for k, v in compared.items())


def conclusions(results: dict, compared: dict) -> List[str]:
    small, large = results['kernels']
    lines = []
    for kernel, pvr in compared['pretrained_vs_random'].items():
        wins, detail = _tally(pvr)
        lines.append(f'DINO pre-training vs random initialisation, {kernel}x{kernel} kernels: '
                     f'better on {len(wins)} of {len(pvr)} metrics ({detail}).')
    lvs = compared['large_vs_small_kernel']
    helped, detail = _tally(lvs)
    verdict = 'helped' if len(helped) > len(lvs) / 2 else 'did not help'
    lines.append(f'The larger kernel ({large}x{large} vs {small}x{small}, same recipe and '
                 f'budget) {verdict}: better on {len(helped)} of {len(lvs)} metrics ({detail}).')
    lines.append('One seed and a small generated dataset: differences of a few points are '
                 'within run-to-run noise; treat them as a smoke test of the pipeline, not as '
                 'evidence for or against the paper.')
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
