"""The demo report's seed handling: means, ranges and the seed-spread verdict."""
import pytest

from lkssl_mm.demo.pipeline import DemoPipeline, mean_of_runs, seeded_name
from lkssl_mm.demo.report import comparisons, conclusions, table_rows

from .conftest import run_tool


def _backbone(knn: float, box_aps: list, miou: list) -> dict:
    """One backbone's results; ``box_aps`` / ``miou`` hold one value per fine-tuning seed."""
    return dict(knn={'knn/top1_k20': knn},
                linear=mean_of_runs([{'accuracy/top1': 30.0}] * len(box_aps)),
                detection=mean_of_runs([{'coco/bbox_mAP': ap, 'coco/segm_mAP': ap}
                                        for ap in box_aps]),
                segmentation=mean_of_runs([{'mIoU': m} for m in miou]))


def _results(seeds: int) -> dict:
    take = slice(0, seeds)
    return dict(kernels=[3, 13], finetune_seeds=seeds, backbones=dict(
        dino_k3=_backbone(40.0, [0.20, 0.22, 0.24][take], [30.0, 20.0, 25.0][take]),
        random_k3=_backbone(35.0, [0.10, 0.12, 0.14][take], [28.0, 27.0, 26.0][take]),
        dino_k13=_backbone(38.0, [0.15, 0.16, 0.17][take], [24.0, 25.0, 26.0][take]),
        random_k13=_backbone(36.0, [0.15, 0.15, 0.15][take], [25.0, 25.0, 25.0][take])))


def test_mean_of_runs_averages_numbers_and_keeps_each_run():
    runs = [{'mIoU': 20.0, 'aAcc': 90.0, 'note': 'x'}, {'mIoU': 30.0, 'aAcc': 80.0, 'note': 'y'}]
    mean = mean_of_runs(runs)
    assert mean['mIoU'] == 25.0 and mean['aAcc'] == 85.0 and 'note' not in mean
    assert mean['seeds'] == runs
    assert seeded_name('detection_dino_k3', 0) == 'detection_dino_k3'
    assert seeded_name('detection_dino_k3', 2) == 'detection_dino_k3_s2'


def test_seed_spread_decides_beyond_noise_only_when_every_seed_is_better():
    compared = comparisons(_results(3))['pretrained_vs_random']['3']
    box = compared['Mask R-CNN box AP']
    assert box['pretrained'] == pytest.approx(22.0) and box['random'] == pytest.approx(12.0)
    assert box['pretrained_seeds'] == [20.0, 22.0, 24.0]
    assert box['beyond_seed_spread'] is True  # 20 > 14: every seed better
    miou = compared['UperNet mIoU %']
    assert miou['better'] is False and miou['beyond_seed_spread'] is False  # 25 vs 27 mean
    assert compared['kNN top-1 (k=20) %']['beyond_seed_spread'] is None  # kNN has no seed


def test_overlapping_seeds_are_not_beyond_the_spread_even_with_a_better_mean():
    compared = comparisons(_results(3))['large_vs_small_kernel']
    miou = compared['UperNet mIoU %']  # k13 25.0 (24-26) vs k3 25.0 (20-30)
    assert miou['beyond_seed_spread'] is False
    box = comparisons(_results(3))['pretrained_vs_random']['13']['Mask R-CNN box AP']
    assert box['better'] is True and box['beyond_seed_spread'] is False  # 16 vs 15, 15 >= 15


def test_table_shows_seed_ranges_and_conclusions_name_the_spread():
    results = _results(3)
    rows = {row[0]: row[1:] for row in table_rows(results)}
    assert rows['Mask R-CNN box AP'][0] == '22 (20-24)'
    assert rows['kNN top-1 (k=20) %'][0] == '40'
    lines = conclusions(results, comparisons(results))
    assert 'box AP +10*' in lines[0]
    # box and mask AP of the four seeded metrics (linear, box, mask, mIoU)
    assert 'beyond the fine-tuning seed spread (*: every seed better) on 2 of 4' in lines[0]
    assert 'means of 3 seeds' in lines[-1]


def test_a_single_seed_report_says_its_spread_is_unmeasured():
    results = _results(1)
    compared = comparisons(results)
    assert all(v['beyond_seed_spread'] is None
               for v in compared['pretrained_vs_random']['3'].values())
    assert _box_ap_cell(results) == '20'
    lines = conclusions(results, compared)
    assert 'beyond the fine-tuning seed spread' not in ' '.join(lines)
    assert 'One fine-tuning seed' in lines[-1]


def _box_ap_cell(results: dict) -> str:
    return {row[0]: row[1:] for row in table_rows(results)}['Mask R-CNN box AP'][0]


@pytest.mark.parametrize('args,env', [([], {'DEMO_SEEDS': 'three'}),
                                      (['--finetune-seeds', '0'], {})])
def test_a_bad_seed_count_is_refused_before_anything_runs(tmp_path, args, env):
    proc = run_tool('tools/demo.py', '--size', 'tiny', '--work-dir', str(tmp_path / 'out'),
                    *args, check=False, env=env)
    assert proc.returncode == 2
    assert 'expected a whole number of seeds, at least 1' in proc.stderr
    assert '$DEMO_SEEDS' in proc.stderr and not (tmp_path / 'out').exists()
    with pytest.raises(ValueError, match='finetune_seeds must be at least 1'):
        DemoPipeline('tiny', str(tmp_path / 'lib'), str(tmp_path / 'data'), finetune_seeds=0)
