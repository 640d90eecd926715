"""The demo at its smallest size: report structure, real numbers, reuse of finished steps."""
import json
import math
import time

import pytest

from .conftest import run_tool

pytestmark = pytest.mark.slow

BACKBONES = ('dino_k3', 'random_k3', 'dino_k13', 'random_k13')


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp('demo')
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(work / 'out'),
                    '--data-root', str(work / 'data'), timeout=1500)
    return work / 'out', proc


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_report_holds_every_metric_as_a_real_number(demo):
    work, _ = demo
    report = json.loads((work / 'report.json').read_text())
    assert report['size'] == 'tiny' and report['kernels'] == [3, 13]
    assert sorted(report['backbones']) == sorted(BACKBONES)
    for name in BACKBONES:
        backbone = report['backbones'][name]
        assert _finite(backbone['knn']['knn/top1_k20'])
        assert _finite(backbone['linear']['accuracy/top1'])
        assert all(_finite(v) for v in backbone['erf']['area_ratio'].values())
        assert _finite(backbone['detection']['coco/bbox_mAP'])
        assert _finite(backbone['detection']['coco/segm_mAP'])
        assert _finite(backbone['segmentation']['mIoU'])
    assert all(_finite(s) and s > 0 for s in report['step_seconds'].values())
    assert len(report['step_seconds']) == 27
    assert all(len(losses) > 0 for losses in report['pretrain_losses'].values())
    compared = report['comparisons']
    assert set(compared) == {'pretrained_vs_random', 'large_vs_small_kernel'}
    assert len(compared['large_vs_small_kernel']) == 5
    assert set(compared['pretrained_vs_random']) == {'3', '13'}
    for kernel, metrics in compared['pretrained_vs_random'].items():
        assert len(metrics) == 5  # kNN, linear, box AP, mask AP, mIoU
        for value in metrics.values():
            assert value['delta'] == pytest.approx(value['pretrained'] - value['random'],
                                                   abs=0.011)
            assert value['better'] == (value['pretrained'] > value['random'])
        assert any(f'{kernel}x{kernel} kernels: better on' in line
                   for line in report['conclusions'])
    assert any('larger kernel' in line for line in report['conclusions'])


def test_report_markdown_and_plots_are_written(demo):
    work, proc = demo
    text = (work / 'report.md').read_text()
    assert '| metric | dino_k3 | random_k3 | dino_k13 | random_k13 |' in text
    assert 'kNN top-1 (k=20) %' in text and '## Wall time per step' in text
    for plot in ('pretrain_loss.png', 'knn_vs_kernel.png', 'erf_panel.png', 'erf_dino_k13.png'):
        assert (work / 'plots' / plot).stat().st_size > 1000, plot
    assert 'report:' in proc.stdout and 'kNN top-1 (k=20) %' in proc.stdout


def test_running_again_reuses_every_finished_step(demo):
    work, _ = demo
    start = time.time()
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(work),
                    '--data-root', str(work.parent / 'data'))
    assert time.time() - start < 120
    assert proc.stdout.count('done earlier') == 27
    assert 'tools/train.py' not in proc.stdout


def test_more_finetune_seeds_add_only_the_new_runs(demo):
    work, _ = demo
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(work), '--data-root',
                    str(work.parent / 'data'), '--finetune-seeds', '2', timeout=900)
    assert proc.stdout.count('done earlier') == 27
    # seed 1 of the linear probe, Mask R-CNN and UperNet for each of the four backbones
    assert proc.stdout.count('tools/train.py') == 12
    report = json.loads((work / 'report.json').read_text())
    assert report['finetune_seeds'] == 2 and len(report['step_seconds']) == 39
    for name in BACKBONES:
        for kind, key in (('linear', 'accuracy/top1'), ('detection', 'coco/bbox_mAP'),
                          ('segmentation', 'mIoU')):
            result = report['backbones'][name][kind]
            seeds = [run[key] for run in result['seeds']]
            assert len(seeds) == 2 and all(_finite(v) for v in seeds)
            assert result[key] == pytest.approx(sum(seeds) / 2)
    config = next((work / 'transfer' / 'detection_dino_k3_s1').glob('*.py')).read_text()
    assert 'seed=1' in config.replace(' ', '')
    for metrics in report['comparisons']['pretrained_vs_random'].values():
        assert metrics['kNN top-1 (k=20) %']['beyond_seed_spread'] is None
        assert isinstance(metrics['Mask R-CNN box AP']['beyond_seed_spread'], bool)
    assert 'means of 2 seeds' in report['conclusions'][-1]


def test_learning_check_compares_with_several_random_inits(demo, tmp_path):
    import torch
    work, _ = demo
    check = tmp_path / 'check'
    proc = run_tool('tools/analysis/dino_learning_check.py', '--size', 'tiny', '--kernel', '3',
                    '--epochs', '1', '--seed', '1', '--random-seeds', '2', '--work-dir',
                    str(check), '--data-root', str(work.parent / 'data'), timeout=900)
    result = json.loads(proc.stdout[proc.stdout.rindex('{\n  "command"'):])
    assert result['epochs'] == 1 and result['seed'] == 1
    assert [r['seed'] for r in result['knn_random']] == [0, 1]
    random_top1 = [r['knn/top1_k20'] for r in result['knn_random']]
    mean = sum(random_top1) / 2
    assert result['random_top1_k20']['mean'] == pytest.approx(mean, abs=0.01)
    assert result['gain_top1_k20_over_random_mean'] == pytest.approx(
        result['knn_dino']['knn/top1_k20'] - mean, abs=0.01)
    seeds = [torch.load(check / 'backbones' / name, weights_only=True)['state_dict']
             for name in ('random_k3.pth', 'random_k3_s1.pth')]
    assert any(not torch.equal(a, seeds[1][k]) for k, a in seeds[0].items())
    config = (check / 'pretrain_k3' / 'dino_lkconvnext-demo-k13_1xb32-10e_synthetic.py')
    assert 'seed=1' in config.read_text().replace(' ', '')
