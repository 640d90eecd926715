"""The demo report: its table, comparisons and sentences follow the numbers it is given."""
import copy
import json
import sys

import pytest

from .conftest import ROOT, run_tool

sys.path.insert(0, str(ROOT / 'tools'))

from demo_pipeline.report import (  # noqa: E402
    collapse_notes,
    comparisons,
    conclusions,
    paper_question,
    table_rows,
    write_report,
)
from demo_pipeline.runner import Demo, mean_of_runs  # noqa: E402
from demo_pipeline.steps import collapse_warnings  # noqa: E402


def _init(knn, box_aps, miou, linear=30.0, erf=0.05):
    """One initialisation's results; ``box_aps`` / ``miou`` hold one value per seed."""
    return dict(knn={'knn/top1_k20': knn}, erf={'t50': erf, 'heatmap': None},
                linear=mean_of_runs([{'accuracy/top1': linear}] * len(box_aps)),
                detection=mean_of_runs([{'coco/bbox_mAP': ap, 'coco/segm_mAP': ap}
                                        for ap in box_aps]),
                segmentation=mean_of_runs([{'mIoU': m} for m in miou]))


def _backbone(label, family, kernel, dino, random):
    return dict(label=label, family=family, kernel=kernel, arch='x', erf_map='stage 3',
                complexity=dict(params=1.2e6, flops=1.8e7),
                pretrain=dict(images_per_second=90.0, losses=[], knn=[]),
                inits=dict(dino=dino, random=random))


def _results(seeds: int) -> dict:
    take = slice(0, seeds)

    def runs(knn, box_aps, miou):
        return _init(knn, box_aps[take], miou[take])

    backbones = dict(
        k3=_backbone('LKConvNeXt 3x3', 'CNN', 3,
                     runs(40.0, [0.20, 0.22, 0.24], [30.0, 20.0, 25.0]),
                     runs(35.0, [0.10, 0.12, 0.14], [28.0, 27.0, 26.0])),
        k13=_backbone('LKConvNeXt 13x13', 'CNN', 13,
                      runs(38.0, [0.15, 0.16, 0.17], [24.0, 25.0, 26.0]),
                      runs(36.0, [0.15, 0.15, 0.15], [25.0, 25.0, 25.0])),
        vit=_backbone('ViT p16', 'Transformer', None,
                      runs(37.0, [0.10, 0.11, 0.12], [20.0, 21.0, 22.0]),
                      runs(30.0, [0.05, 0.05, 0.05], [20.0, 20.0, 20.0])),
        swin=_backbone('Swin', 'Transformer', None,
                       runs(39.0, [0.18, 0.19, 0.20], [24.0, 24.0, 24.0]),
                       runs(33.0, [0.08, 0.09, 0.10], [21.0, 21.0, 21.0])))
    return dict(size='small', seeds=seeds, lengths=dict(pretrain=4), total_seconds=1.0,
                step_seconds={}, machine=dict(device='cpu', cpu_count=2, torch_threads=2),
                backbones=backbones)


def _pair(compared, first, second):
    return next(p['metrics'] for p in compared['backbones']
                if (p['first'], p['second']) == (first, second))


def test_table_has_one_row_per_backbone_with_dino_and_random_cells():
    rows = table_rows(_results(3))
    header, *body = rows
    assert header[:5] == ['backbone', 'family', 'params (M)', 'GFLOPs (64 px)',
                          'pre-train img/s']
    assert [r[0] for r in body] == ['LKConvNeXt 3x3', 'LKConvNeXt 13x13', 'ViT p16', 'Swin']
    row = dict(zip(header, body[0]))
    assert row['params (M)'] == '1.2' and row['GFLOPs (64 px)'] == '0.018'
    assert row['k-NN %'] == '40 / 35'
    assert row['box AP'] == '22 (20-24) / 12 (10-14)'
    assert row['ERF area 50 %'] == '0.05 / 0.05'


def test_seed_spread_decides_beyond_noise_only_when_every_seed_is_better():
    compared = comparisons(_results(3))
    box = compared['pretrained_vs_random']['k3']['box AP']
    assert box['pretrained'] == pytest.approx(22.0) and box['random'] == pytest.approx(12.0)
    assert box['beyond_seed_spread'] is True  # 20 > 14
    miou = compared['pretrained_vs_random']['k3']['mIoU %']
    assert miou['better'] is False and miou['beyond_seed_spread'] is False  # 25 vs 27
    assert compared['pretrained_vs_random']['k3']['k-NN %']['beyond_seed_spread'] is None
    assert 'ERF area 50 %' not in compared['pretrained_vs_random']['k3']  # shown, not won
    kernel = _pair(compared, 'k13', 'k3')
    assert kernel['mIoU %']['beyond_seed_spread'] is False  # 24-26 vs 20-30, level means
    swin = _pair(compared, 'k13', 'swin')
    assert swin['box AP']['better'] is False and swin['box AP']['delta'] == pytest.approx(-3.0)


def test_sentences_state_the_numbers_and_change_when_a_number_changes():
    results = _results(3)
    lines = conclusions(results, comparisons(results))
    k3 = next(line for line in lines if line.startswith('LKConvNeXt 3x3, DINO vs random'))
    assert 'ahead, better on 3 of 5 metrics' in k3 and 'box AP +10*' in k3
    assert 'beyond the fine-tuning seed spread (*: every seed better) on 2 of 4' in k3
    kernel = next(line for line in lines if line.startswith('Kernel size'))
    assert 'LKConvNeXt 13x13 vs LKConvNeXt 3x3' in kernel and 'LKConvNeXt 13x13 behind' in kernel
    assert 'means of 3 seeds' in lines[-1]

    changed = copy.deepcopy(results)
    changed['backbones']['k13']['inits']['dino']['knn']['knn/top1_k20'] = 45.0
    for run in changed['backbones']['k13']['inits']['dino']['linear']['seeds']:
        run['accuracy/top1'] = 40.0
    changed['backbones']['k13']['inits']['dino']['linear']['accuracy/top1'] = 40.0
    new = conclusions(changed, comparisons(changed))
    new_kernel = next(line for line in new if line.startswith('Kernel size'))
    assert new_kernel != kernel
    assert 'LKConvNeXt 13x13 behind, better on 2 of 5' in new_kernel
    assert 'k-NN % +5' in new_kernel and 'linear % +10*' in new_kernel


def test_the_paper_question_is_answered_from_the_comparisons():
    results = _results(1)
    line = paper_question(results, comparisons(results))
    # k13 vs vit: k-NN, box, mask and mIoU better (linear tied); vs swin: none
    assert line.startswith("The paper's question, large-kernel CNN vs Transformers")
    assert ('LKConvNeXt 13x13 was ahead of ViT p16 (4 of 5 metrics better) and behind Swin '
            '(0 of 5 metrics better)') in line
    # k3 won 4 against each
    assert line.endswith('it won fewer metrics than LKConvNeXt 3x3 (4 vs 8).')
    dino = results['backbones']['k13']['inits']['dino']
    dino['knn']['knn/top1_k20'] = 50.0
    dino['segmentation']['mIoU'] = 31.0
    for key in ('coco/bbox_mAP', 'coco/segm_mAP'):
        dino['detection'][key] = 0.25
    line = paper_question(results, comparisons(results))
    assert 'ahead of ViT p16 (4 of 5 metrics better) and ahead of Swin (4 of 5' in line
    assert line.endswith('it won as many metrics as LKConvNeXt 3x3 (8 vs 8).')


def test_collapse_warnings_of_pre_training_are_reported_as_logged(tmp_path):
    log = tmp_path / 'pretrain_vit.log'
    warning = ('12/02 18:54:43 - mmengine - WARNING - Self-distillation looks collapsed at '
               'iteration {}: {} (teacher entropy 0.989 > 0.98). Check the teacher ...\n')
    log.write_text('Epoch(train) [1][10/40]\n' + warning.format(90, 'uniform') +
                   warning.format(110, 'uniform'))
    assert collapse_warnings(str(log)) == [[90, 'uniform'], [110, 'uniform']]
    results = _results(1)
    for name, b in results['backbones'].items():
        b['pretrain']['collapse_warnings'] = collapse_warnings(str(log)) if name == 'vit' else []
    del results['backbones']['swin']['pretrain']['collapse_warnings']  # not recorded: left out
    lines = collapse_notes(results)
    assert lines == [
        "Collapse monitor (CollapseMonitorHook): ViT p16's pre-training: 2 warning(s) of "
        'uniform teacher output, from iteration 90 to 110; its DINO results come from that '
        'teacher.',
        'Collapse monitor: no warning during the pre-training of LKConvNeXt 3x3, '
        'LKConvNeXt 13x13.']
    assert set(lines) <= set(conclusions(results, comparisons(results)))
    results['backbones']['vit']['pretrain']['collapse_warnings'] = []
    assert collapse_notes(results) == ['Collapse monitor: no warning during the pre-training '
                                       'of LKConvNeXt 3x3, LKConvNeXt 13x13, ViT p16.']


def test_a_single_seed_report_says_its_spread_is_unmeasured():
    results = _results(1)
    compared = comparisons(results)
    assert all(v['beyond_seed_spread'] is None
               for v in compared['pretrained_vs_random']['k3'].values())
    assert {r[0]: r for r in table_rows(results)[1:]}['LKConvNeXt 3x3'][8] == '20 / 10'
    lines = conclusions(results, compared)
    assert 'beyond the fine-tuning seed spread' not in ' '.join(lines)
    assert 'One fine-tuning seed' in lines[-1]


def test_random_baselines_left_out_are_named_and_not_compared(tmp_path):
    results = _results(1)
    for backbone in results['backbones'].values():
        del backbone['inits']['random']['detection']
    results['random_skipped'] = ['detection']
    rows = {r[0]: r for r in table_rows(results)[1:]}
    assert rows['LKConvNeXt 3x3'][8] == '20 / -'
    compared = comparisons(results)
    assert 'box AP' not in compared['pretrained_vs_random']['k3']
    assert 'box AP' in _pair(compared, 'k13', 'k3')  # DINO vs DINO still compared
    write_report(results, str(tmp_path / 'left_out'))
    assert 'Not run from random initialisation at this size, to fit its time budget: ' \
        'detection' in (tmp_path / 'left_out' / 'report.md').read_text()
    write_report(_results(1), str(tmp_path / 'all'))
    assert 'Not run from random' not in (tmp_path / 'all' / 'report.md').read_text()
    k3 = conclusions(results, compared)[1]
    assert k3.startswith('LKConvNeXt 3x3, DINO vs random initialisation') and 'box AP' not in k3


def test_report_files_are_written(tmp_path):
    results = _results(2)
    report = write_report(results, str(tmp_path))
    text = (tmp_path / 'report.md').read_text()
    assert '| backbone | family | params (M) |' in text and '## Conclusions' in text
    assert report['conclusions'][0] in text
    assert json.loads((tmp_path / 'report.json').read_text())['comparisons'] == \
        json.loads(json.dumps(report['comparisons']))
    for name in ('pretrain_loss.png', 'pretrain_knn.png', 'knn_per_backbone.png'):
        assert (tmp_path / 'plots' / name).stat().st_size > 1000, name


@pytest.mark.parametrize('args,env', [([], {'DEMO_SEEDS': 'three'}),
                                      (['--finetune-seeds', '0'], {})])
def test_a_bad_seed_count_is_refused_before_anything_runs(tmp_path, args, env):
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(tmp_path / 'out'),
                    *args, check=False, env=env)
    assert proc.returncode == 2
    assert 'expected a whole number of seeds, at least 1' in proc.stderr
    assert '$DEMO_SEEDS' in proc.stderr and not (tmp_path / 'out').exists()
    with pytest.raises(ValueError, match='seeds must be at least 1'):
        Demo('tiny', str(tmp_path / 'lib'), str(tmp_path / 'data'), seeds=0)
