"""The demo shortens each config's run: its lr schedule must still reach its end."""
import argparse
import os.path as osp

import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import PARAM_SCHEDULERS

from lkssl_mm.demo.pipeline import CONFIGS, DEMO_CONFIGS, schedule_options

ITERS_PER_EPOCH = 50  # about the small demo's (40 pre-training, 48 detection)


def _lr_per_iteration(cfg: Config, total_iters: int) -> list:
    """The lr of every training iteration under ``cfg.param_scheduler`` (all step per iteration
    in these configs: iteration-based or ``convert_to_iter_based``)."""
    base_lr = 1.0
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    schedulers = []
    for scheduler_cfg in cfg.param_scheduler:
        scheduler_cfg = dict(scheduler_cfg)
        if scheduler_cfg.get('param_name', 'lr') != 'lr':
            continue
        if scheduler_cfg.pop('convert_to_iter_based', False):
            cls = PARAM_SCHEDULERS.get(scheduler_cfg.pop('type'))
            schedulers.append(cls.build_iter_from_epoch(
                optimizer, epoch_length=ITERS_PER_EPOCH, **scheduler_cfg))
        else:
            assert not scheduler_cfg.get('by_epoch', True), scheduler_cfg
            schedulers.append(PARAM_SCHEDULERS.build(dict(scheduler_cfg, optimizer=optimizer)))
    lrs = []
    for _ in range(total_iters):
        lrs.append(optimizer.param_groups[0]['lr'] / base_lr)
        for scheduler in schedulers:
            scheduler.step()
    return lrs


def _parse_cfg_options(options: list) -> dict:
    """Parse ``--cfg-options`` as ``tools/train.py`` does (mmengine's ``DictAction``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


@pytest.mark.parametrize('kind,length', [('linear', 5), ('detection', 4), ('segmentation', 160),
                                         ('pretrain', 3)])
def test_shortened_run_anneals_to_the_end(kind, length):
    cfg = Config.fromfile(osp.join(DEMO_CONFIGS, CONFIGS[kind]))
    original = cfg.train_cfg.get('max_epochs', cfg.train_cfg.get('max_iters'))
    assert length < original  # the demo's sizes shorten every config
    cfg.merge_from_dict(_parse_cfg_options(
        schedule_options(osp.join(DEMO_CONFIGS, CONFIGS[kind]), length)))
    by_epoch = 'max_epochs' in cfg.train_cfg
    assert cfg.train_cfg.get('max_epochs' if by_epoch else 'max_iters') == int(length)
    total = length * ITERS_PER_EPOCH if by_epoch else length
    lrs = _lr_per_iteration(cfg, total)
    assert max(lrs) > 0.5  # it did warm up to (near) the base lr
    assert lrs[-1] < 0.02, f'{kind}: the last iteration still runs at {lrs[-1]:.2f} x base lr'


def test_a_scheduler_starting_after_the_shortened_end_is_left_alone():
    options = schedule_options(osp.join(DEMO_CONFIGS, CONFIGS['pretrain']), 1)
    assert options == ['train_cfg.max_epochs=1', 'param_scheduler.2.end=1',
                       'param_scheduler.2.T_max=1']
