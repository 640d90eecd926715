"""The k-NN probe of class and nuisance variables on the generated data."""
from pathlib import Path

import pytest
from mmengine.config import Config

from lkssl_mm.analysis.knn_probe import knn_probe
from lkssl_mm.datasets.synthetic import CLS_ATTRIBUTES

from .conftest import run_tool

ROOT = Path(__file__).resolve().parents[1]
KNN_CONFIG = ROOT / 'configs' / 'demo' / 'knn_lkconvnext-demo_synthetic.py'


def _knn_config(synthetic_root: Path, work_dir: Path) -> Config:
    cfg = Config.fromfile(KNN_CONFIG)
    for loader in (cfg.test_dataloader, cfg.test_cfg.memory_dataloader):
        loader.dataset.data_root = str(synthetic_root / 'imagenet')
        loader.num_workers = 0
    cfg.model.backbone.kernel_size = 3
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    return cfg


def test_probe_reports_every_attribute_and_agrees_with_the_knn_loop(synthetic_root, tmp_path):
    from mmengine.runner import Runner
    cfg = _knn_config(synthetic_root, tmp_path / 'probe')
    result = knn_probe(cfg, None, str(synthetic_root))
    assert set(result) == set(CLS_ATTRIBUTES)
    for name, entry in result.items():
        assert entry['values'] == CLS_ATTRIBUTES[name]
        assert 0 <= entry['top1'] <= 100
        assert 100 / entry['values'] <= entry['chance'] <= 100
    # the class column is the k-NN evaluation itself (same features, same vote)
    loop_cfg = _knn_config(synthetic_root, tmp_path / 'loop')
    loop_cfg.test_evaluator = dict(type='KNNAccuracy', k=20, temperature=0.07, topk=(1, ))
    metrics = Runner.from_cfg(loop_cfg).test()
    assert result['class']['top1'] == pytest.approx(metrics['knn/top1_k20'], abs=0.01)


def test_probe_rejects_unknown_attributes_and_foreign_data(synthetic_root, tmp_path):
    cfg = _knn_config(synthetic_root, tmp_path / 'probe')
    with pytest.raises(ValueError, match=r"\['texture'\]"):
        knn_probe(cfg, None, str(synthetic_root), attributes=['class', 'texture'])
    with pytest.raises(FileNotFoundError, match='no generated classification data'):
        knn_probe(cfg, None, str(tmp_path), attributes=['class'])


def test_probe_tool_prints_json(synthetic_root, tmp_path):
    import json


    proc = run_tool('tools/analysis/knn_probe.py', str(KNN_CONFIG), 'none', '--data-root',
                    str(synthetic_root), '--attributes', 'object_count', 'largest_colour',
                    '--work-dir', str(tmp_path), '--cfg-options', 'model.backbone.kernel_size=3',
                    'test_dataloader.num_workers=0', 'test_cfg.memory_dataloader.num_workers=0')
    result = json.loads(proc.stdout[proc.stdout.index('{\n'):])
    assert set(result['probe']) == {'object_count', 'largest_colour'}
    assert result['checkpoint'] == 'none' and 'knn_probe.py' in result['command']
