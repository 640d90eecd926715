"""Plugin registration, checkpoint loading safety, set-up idempotency, launch helpers."""
import os
import pickle
import subprocess
import time

import pytest
import torch
from mmengine.config import Config

import lkssl_mm
from lkssl_mm.engine.launch import enable_amp, load_config, setup_cpu_distributed, setup_resume

from .conftest import ROOT


def test_import_registers_every_module_in_the_right_registry():
    from mmdet.registry import MODELS as DET_MODELS
    from mmengine.registry import (
        HOOKS,
        LOOPS,
        METRICS,
        MODELS,
        OPTIM_WRAPPER_CONSTRUCTORS,
        OPTIM_WRAPPERS,
    )
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    from mmseg.registry import MODELS as SEG_MODELS
    assert MODELS.get('LKConvNeXt') is lkssl_mm.models.LKConvNeXt
    for registry in (PRETRAIN_MODELS, DET_MODELS, SEG_MODELS):  # children see the root
        assert registry.get('LKConvNeXt') is lkssl_mm.models.LKConvNeXt
        assert registry.get('LN2d') is not None
    for name in ('DINO', 'DINONeck', 'DINOHead'):
        assert PRETRAIN_MODELS.get(name) is not None
    assert HOOKS.get('CollapseMonitorHook') and HOOKS.get('RNGStateHook')
    assert OPTIM_WRAPPERS.get('DINOOptimWrapper') and OPTIM_WRAPPERS.get('DINOAmpOptimWrapper')
    assert OPTIM_WRAPPER_CONSTRUCTORS.get('LayerDecayOptimWrapperConstructor')
    assert METRICS.get('KNNAccuracy') and LOOPS.get('KNNTestLoop') and LOOPS.get('KNNValLoop')


def test_configs_load_the_plugin_through_custom_imports():
    # a fresh interpreter that never imports lkssl_mm itself
    code = ('from mmengine.config import Config\n'
            'from mmengine.utils import import_modules_from_strings\n'
            "cfg = Config.fromfile('configs/demo/mask-rcnn_lkconvnext-demo_fpn_synthetic.py')\n"
            'import_modules_from_strings(**cfg.custom_imports)\n'
            'from mmdet.registry import MODELS\n'
            "print(MODELS.get('LKConvNeXt').__name__)\n")
    out = subprocess.run([os.sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith('LKConvNeXt')


def test_full_mmengine_checkpoints_load_with_weights_only(tmp_path):
    import numpy as np
    from mmengine.logging import HistoryBuffer, MessageHub
    hub = MessageHub('ckpt-test')
    hub.update_scalar('train/loss', 1.5)
    checkpoint = dict(meta=dict(seed=np.int64(3), epoch=2),
                      message_hub=hub.state_dict(), state_dict={'w': torch.ones(2)},
                      rng_state=dict(numpy=np.random.get_state()))
    path = tmp_path / 'full.pth'
    torch.save(checkpoint, path)
    loaded = torch.load(path)  # weights_only=True is the default of torch >= 2.6
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert loaded['meta']['seed'] == 3


class _Exploit:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


def test_checkpoint_allow_list_still_refuses_code_execution(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'payload': _Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)
    # getattr is only resolved for HistoryBuffer's statistics methods
    from lkssl_mm.utils.checkpoint import _history_buffer_getattr
    with pytest.raises(pickle.UnpicklingError):
        _history_buffer_getattr(os, 'system')


def test_setup_is_idempotent_and_fast_when_up_to_date():
    if not os.path.exists(ROOT / '.venv' / '.lkssl_mm_setup') and not os.environ.get(
            'VIRTUAL_ENV'):
        pytest.skip('not installed through tools/setup_env.sh')
    start = time.time()
    out = subprocess.run(['bash', 'tools/setup_env.sh'], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'environment up to date' in out.stderr
    assert time.time() - start < 60


def _args(**kwargs):
    defaults = dict(cfg_options=None, launcher='none', work_dir=None, local_rank=0)
    defaults.update(kwargs)
    return type('Args', (), defaults)()


def test_load_config_sets_work_dir_launcher_and_options():
    cfg = load_config('configs/demo/linear-probe_lkconvnext-demo_synthetic.py',
                      _args(cfg_options={'train_cfg.max_epochs': 3}))
    assert cfg.work_dir == os.path.join('work_dirs', 'linear-probe_lkconvnext-demo_synthetic')
    assert cfg.train_cfg.max_epochs == 3 and cfg.launcher == 'none'
    with pytest.raises(FileNotFoundError, match='no_such_config.py'):
        load_config('configs/no_such_config.py', _args())


def test_resume_flag_semantics(tmp_path):
    cfg = Config(dict(model=dict(), work_dir=str(tmp_path)))
    assert setup_resume(cfg, 'auto') is None and not cfg.get('resume')  # nothing yet
    first, second = tmp_path / 'epoch_1.pth', tmp_path / 'epoch_2.pth'
    first.write_bytes(b'1')
    second.write_bytes(b'2')
    (tmp_path / 'last_checkpoint').write_text(str(first))
    assert setup_resume(cfg, 'auto') == str(first) and cfg.resume is True
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'gone.pth'))
    os.utime(first, (1, 1))
    assert setup_resume(cfg, 'auto') == str(second)  # newest *.pth when the pointer is stale
    assert setup_resume(cfg, str(first)) == str(first) and cfg.load_from == str(first)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        setup_resume(cfg, str(tmp_path / 'missing.pth'))


def test_amp_switches_to_the_mixed_precision_wrapper(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    for plain, amp in (('OptimWrapper', 'AmpOptimWrapper'),
                       ('DINOOptimWrapper', 'DINOAmpOptimWrapper')):
        cfg = Config(dict(optim_wrapper=dict(type=plain, optimizer=dict(type='SGD', lr=1))))
        enable_amp(cfg)
        assert cfg.optim_wrapper.type == amp and cfg.optim_wrapper.loss_scale == 'dynamic'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='--amp needs a CUDA GPU'):
        enable_amp(Config(dict(optim_wrapper=dict(type='OptimWrapper'))))


def test_cpu_distributed_falls_back_to_gloo_without_syncbn(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    calls = []
    monkeypatch.setattr(torch.distributed, 'init_process_group',
                        lambda **kwargs: calls.append(kwargs))
    cfg = Config(dict(launcher='pytorch', sync_bn='torch',
                      model=dict(decode_head=dict(norm_cfg=dict(type='SyncBN')))))
    setup_cpu_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo' and calls[0]['backend'] == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.sync_bn is None
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
