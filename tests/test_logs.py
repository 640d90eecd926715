"""TensorBoard by default, W&B as an option, for every config family (docs/logs.md)."""
import glob
import importlib.util
import json

import pytest
from mmengine.config import Config
from mmengine.registry import VISUALIZERS, init_default_scope
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import lkssl_mm  # noqa: F401
from lkssl_mm.engine.launch import set_visualizer

# the demo pre-training config (whose run test_a_dino_run_... reads) and one config of each
# family: (config, the visualizer type its library's runtime sets)
FAMILIES = [
    ('configs/demo/dino_lkconvnext-demo_1xb32-100e_synthetic.py', 'UniversalVisualizer'),
    ('configs/dino/dino_lkconvnext-t-k13-ln_8xb64-100e_in1k.py', 'UniversalVisualizer'),
    ('configs/benchmarks/linear-probe_lkconvnext-t-k13-ln_8xb128-coslr-100e_in1k.py',
     'UniversalVisualizer'),
    ('configs/mask_rcnn/mask-rcnn_lkconvnext-t-k13-ln_fpn_1x_coco.py', 'DetLocalVisualizer'),
    ('configs/upernet/upernet_lkconvnext-t-k13-ln_8xb2-amp-160k_ade20k-512x512.py',
     'SegLocalVisualizer'),
]


def _backend_types(cfg):
    return [b['type'] for b in cfg.visualizer['vis_backends']]


def read_events(run_dir) -> dict:
    """{tag: {step: value}} of the TensorBoard event files in a run's vis_data folder."""
    files = glob.glob(str(run_dir / 'vis_data' / 'events.out.tfevents.*'))
    assert files, f'no event file in {run_dir}/vis_data'
    scalars = {}
    for path in files:
        events = EventAccumulator(path, size_guidance={'scalars': 0})
        events.Reload()
        for tag in events.Tags()['scalars']:
            scalars.setdefault(tag, {}).update({e.step: e.value for e in events.Scalars(tag)})
    return scalars


@pytest.mark.parametrize('config, visualizer', FAMILIES)
def test_every_family_writes_tensorboard_events_by_default(config, visualizer, tmp_path):
    cfg = Config.fromfile(config)
    set_visualizer(cfg)
    assert cfg.visualizer['type'] == visualizer  # the library's visualizer is kept
    assert _backend_types(cfg) == ['LocalVisBackend', 'TensorboardVisBackend']
    init_default_scope(cfg.default_scope)
    vis = VISUALIZERS.build(dict(cfg.visualizer, save_dir=str(tmp_path),
                                 name=f'{tmp_path.name}_{visualizer}'))
    vis.add_scalars({'loss': 0.5, 'collapse/kl_div': 0.25}, step=3)
    vis.close()
    assert read_events(tmp_path) == {'loss': {3: 0.5}, 'collapse/kl_div': {3: 0.25}}


def test_vis_none_keeps_the_json_log_only_and_wandb_is_opt_in(monkeypatch):
    cfg = Config.fromfile(FAMILIES[0][0])
    set_visualizer(cfg, 'none')
    assert _backend_types(cfg) == ['LocalVisBackend']

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'wandb' else real_find_spec(name, *a))
    with pytest.raises(ImportError, match='--vis wandb needs the wandb package: pip install '
                       'wandb'):
        set_visualizer(cfg, 'wandb')
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: object())
    set_visualizer(cfg, 'wandb')
    assert _backend_types(cfg) == ['LocalVisBackend', 'WandbVisBackend']
    set_visualizer(cfg, 'tensorboard')  # switching replaces W&B
    assert _backend_types(cfg) == ['LocalVisBackend', 'TensorboardVisBackend']
    with pytest.raises(ValueError, match="--vis must be one of"):
        set_visualizer(cfg, 'mlflow')


def test_a_backend_configured_in_the_config_keeps_its_settings():
    cfg = Config.fromfile(FAMILIES[0][0])
    cfg.visualizer['vis_backends'] = [dict(type='LocalVisBackend'),
                                      dict(type='WandbVisBackend', init_kwargs=dict(project='x'))]
    set_visualizer(cfg, 'tensorboard')
    assert _backend_types(cfg) == ['LocalVisBackend', 'TensorboardVisBackend']
    cfg.visualizer['vis_backends'] = [dict(type='LocalVisBackend'),
                                      dict(type='TensorboardVisBackend', save_dir='/tmp/tb')]
    set_visualizer(cfg, 'tensorboard')
    assert cfg.visualizer['vis_backends'][1] == dict(type='TensorboardVisBackend',
                                                     save_dir='/tmp/tb')


@pytest.mark.slow
def test_a_dino_run_writes_the_loss_and_the_collapse_monitor_to_tensorboard(dino_demo_run):
    (run_dir, ) = [p.parent.parent for p in dino_demo_run.glob('*/vis_data/scalars.json')]
    events = read_events(run_dir)
    with open(run_dir / 'vis_data' / 'scalars.json') as f:
        logged = [json.loads(line) for line in f if 'loss' in line]
    assert sorted(events['loss']) == [r['step'] for r in logged] == list(range(1, 19))
    for record in logged:  # the same numbers as the JSON log
        for key in ('loss', 'lr', 'teacher_temp'):
            assert events[key][record['step']] == pytest.approx(record[key], rel=1e-6)
    # CollapseMonitorHook (interval 10 in the demo config) writes its statistics at step 10
    for key in ('teacher_entropy', 'teacher_batch_entropy', 'kl_div'):
        assert set(events[f'collapse/{key}']) == {10}
        assert 0 <= events[f'collapse/{key}'][10] < float('inf')
