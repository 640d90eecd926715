"""The demo at its smallest size: every backbone and task runs, the report holds their numbers."""
import json
import math
import re
import sys
import time

import pytest

from .conftest import ROOT, run_tool

sys.path.insert(0, str(ROOT / 'tools'))

from demo_pipeline import BACKBONES, SIZES, TASKS, build_plan  # noqa: E402
from demo_pipeline.report import comparisons, conclusions  # noqa: E402

pytestmark = pytest.mark.slow

PLAN = [step.name for step in build_plan(SIZES['tiny'])]


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp('demo')
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(work / 'out'),
                    '--data-root', str(work / 'data'), timeout=1800)
    return work / 'out', proc


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_the_plan_is_what_ran_and_what_was_counted(demo):
    work, proc = demo
    report = json.loads((work / 'report.json').read_text())
    assert report['plan'] == PLAN and list(report['step_seconds']) == PLAN
    started = re.findall(r'\[demo\] step (\d+)/(\d+): (\S+)$', proc.stdout, re.MULTILINE)
    assert [name for _, _, name in started] == PLAN
    assert {int(total) for _, total, _ in started} == {len(PLAN)}
    assert [int(index) for index, _, _ in started] == list(range(1, len(PLAN) + 1))
    state = json.loads((work / 'state.json').read_text())
    assert sorted(state['steps']) == sorted(PLAN)


def test_every_backbone_has_every_metric_pretrained_and_at_random_init(demo):
    work, _ = demo
    report = json.loads((work / 'report.json').read_text())
    assert list(report['backbones']) == [b.name for b in BACKBONES]
    for name, backbone in report['backbones'].items():
        assert backbone['complexity']['params'] > 1e6 and backbone['complexity']['flops'] > 1e7
        pretrain = backbone['pretrain']
        assert _finite(pretrain['images_per_second']) and pretrain['images_per_second'] > 0
        assert pretrain['losses'] and [e for e, _ in pretrain['knn']] == [1]
        for init in ('dino', 'random'):
            results = backbone['inits'][init]
            for task in TASKS:
                for metric in task.metrics if task.scope == 'init' else ():
                    assert _finite(results[task.name][metric.key]), (name, init, metric.key)
            assert (work / 'plots' / f'erf_{init}_{name}.png').stat().st_size > 1000
    # the DINO and the random backbones differ, and so do their features
    knn = {(n, i): b['inits'][i]['knn']['knn/top1_k20'] for n, b in report['backbones'].items()
           for i in ('dino', 'random')}
    assert len(set(knn.values())) > 1


def test_conclusions_are_those_of_the_numbers(demo):
    work, _ = demo
    report = json.loads((work / 'report.json').read_text())
    assert report['conclusions'] == conclusions(report, comparisons(report))
    for name, metrics in report['comparisons']['pretrained_vs_random'].items():
        assert len(metrics) == 5  # k-NN, linear, box AP, mask AP, mIoU
        for value in metrics.values():
            assert value['delta'] == pytest.approx(value['pretrained'] - value['random'],
                                                   abs=0.011)
            assert value['better'] == (value['pretrained'] > value['random'])
        label = report['backbones'][name]['label']
        wins = sum(v['better'] for v in metrics.values())
        assert any(line.startswith(f'{label}, DINO vs random initialisation') and
                   f'better on {wins} of 5 metrics' in line for line in report['conclusions'])
    assert report['conclusions'][0].startswith("The paper's question")


def test_report_markdown_and_plots_are_written(demo):
    work, proc = demo
    text = (work / 'report.md').read_text()
    assert '| LKConvNeXt 13x13 | CNN |' in text and '| ViT p16 | Transformer |' in text
    assert '## Wall time per step' in text and 'measured on' in text
    for plot in ('pretrain_loss.png', 'pretrain_knn.png', 'knn_per_backbone.png',
                 'erf_panel.png'):
        assert (work / 'plots' / plot).stat().st_size > 1000, plot
    assert 'report:' in proc.stdout and 'k-NN %' in proc.stdout


def test_running_again_reuses_every_finished_step(demo):
    work, _ = demo
    start = time.time()
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(work),
                    '--data-root', str(work.parent / 'data'))
    assert time.time() - start < 120
    assert proc.stdout.count('done earlier') == len(PLAN)
    assert 'tools/train.py' not in proc.stdout


def test_more_finetune_seeds_add_only_the_new_runs(demo):
    work, _ = demo
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(work), '--data-root',
                    str(work.parent / 'data'), '--finetune-seeds', '2', timeout=1200)
    assert proc.stdout.count('done earlier') == len(PLAN)
    per_seed = [t.name for t in TASKS if t.per_seed]
    # seed 1 of the linear probe, Mask R-CNN and UperNet, each backbone and initialisation
    assert proc.stdout.count('$ python tools/train.py') == len(per_seed) * len(BACKBONES) * 2
    report = json.loads((work / 'report.json').read_text())
    assert report['seeds'] == 2 and len(report['step_seconds']) == len(build_plan(
        SIZES['tiny'], seeds=2))
    for backbone in report['backbones'].values():
        for task in per_seed:
            result = backbone['inits']['random'][task]
            key = next(t for t in TASKS if t.name == task).metrics[0].key
            seeds = [run[key] for run in result['seeds']]
            assert len(seeds) == 2 and all(_finite(v) for v in seeds)
            assert result[key] == pytest.approx(sum(seeds) / 2)
    config = next((work / 'runs' / 'detection_dino_vit_s1').glob('*.py')).read_text()
    assert 'seed=1' in config.replace(' ', '')
    for metrics in report['comparisons']['pretrained_vs_random'].values():
        assert metrics['k-NN %']['beyond_seed_spread'] is None
        assert isinstance(metrics['box AP']['beyond_seed_spread'], bool)
    assert 'means of 2 seeds' in report['conclusions'][-1]


def test_learning_check_compares_with_several_random_inits(demo, tmp_path):
    import torch
    work, _ = demo
    check = tmp_path / 'check'
    proc = run_tool('tools/analysis/dino_learning_check.py', '--size', 'tiny', '--kernel', '3',
                    '--epochs', '1', '--seed', '1', '--random-seeds', '2', '--work-dir',
                    str(check), '--data-root', str(work.parent / 'data'), timeout=900)
    result = json.loads(proc.stdout[proc.stdout.rindex('{\n  "command"'):])
    assert result['epochs'] == 1 and result['seed'] == 1 and result['kernel'] == 3
    assert [r['seed'] for r in result['knn_random']] == [0, 1]
    random_top1 = [r['knn/top1_k20'] for r in result['knn_random']]
    mean = sum(random_top1) / 2
    assert result['random_top1_k20']['mean'] == pytest.approx(mean, abs=0.01)
    assert result['gain_top1_k20_over_random_mean'] == pytest.approx(
        result['knn_dino']['knn/top1_k20'] - mean, abs=0.01)
    seeds = [torch.load(check / 'backbones' / name, weights_only=True)['state_dict']
             for name in ('random_k3.pth', 'random_s1_k3.pth')]
    assert any(not torch.equal(a, seeds[1][k]) for k, a in seeds[0].items())
    config = check / 'runs' / 'pretrain_k3' / 'dino_lkconvnext-demo_1xb32-100e_synthetic.py'
    assert 'seed=1' in config.read_text().replace(' ', '')
    assert proc.stdout.count('[demo] step ') == 1 + 1 + 1 + 2 + 3  # data..k-NN of 3 inits
