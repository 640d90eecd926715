"""One option changes a run's length and every schedule follows (lkssl_mm.engine.run_length).

The schedules are stepped with mmengine's own schedulers, built from the real
configs as its runner builds them, and stepped as its ParamSchedulerHook does.
"""
import copy
import functools

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, MODELS, PARAM_SCHEDULERS, RUNNERS

import lkssl_mm  # noqa: F401
from lkssl_mm.engine.run_length import RunLengthRunner, fit_run_length

DINO = 'configs/dino/dino_lkconvnext-t-k13-ln_8xb64-100e_in1k.py'
DINO_300E = 'configs/dino/dino_vit-s-p16_16xb64-300e_in1k.py'  # teacher temp warmed up 30 epochs
MASK_RCNN = 'configs/mask_rcnn/mask-rcnn_lkconvnext-t-k13-ln_fpn_1x_coco.py'
UPERNET = 'configs/upernet/upernet_lkconvnext-t-k13-ln_8xb2-amp-160k_ade20k-512x512.py'
EPOCH_LENGTH = 20  # iterations per epoch of the simulated runs


def schedule(cfg: Config, param: str = 'lr', epoch_length: int = EPOCH_LENGTH) -> list:
    """``param`` (relative to its initial value 1) at every training iteration of ``cfg``.

    Builds ``cfg.param_scheduler`` as mmengine's Runner does (default ``end`` =
    the loop length, ``epoch_length`` for ``convert_to_iter_based``) and steps
    it as its ParamSchedulerHook does: iteration-based schedulers after every
    iteration, epoch-based ones after every epoch.
    """
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0, weight_decay=1.0)
    by_epoch_loop = 'max_epochs' in cfg.train_cfg
    total = (cfg.train_cfg.max_epochs * epoch_length if by_epoch_loop
             else cfg.train_cfg.max_iters)
    schedulers = []
    for scheduler_cfg in copy.deepcopy(cfg.param_scheduler):
        if scheduler_cfg.get('param_name', 'lr' if 'LR' in scheduler_cfg['type'] else None) \
                != param:
            continue
        scheduler_cfg.setdefault('end', cfg.train_cfg.get(
            'max_epochs' if scheduler_cfg.get('by_epoch', True) else 'max_iters'))
        schedulers.append(PARAM_SCHEDULERS.build(
            scheduler_cfg, default_args=dict(optimizer=optimizer, epoch_length=epoch_length)))
    values = []
    for iteration in range(total):
        values.append(optimizer.param_groups[0][param])
        for scheduler in schedulers:
            if not scheduler.by_epoch:
                scheduler.step()
        if by_epoch_loop and (iteration + 1) % epoch_length == 0:
            for scheduler in schedulers:
                if scheduler.by_epoch:
                    scheduler.step()
    return values


@functools.cache
def _loaded(config: str) -> Config:
    return Config.fromfile(config)


def loaded(config: str) -> Config:
    """A fresh copy of ``config`` (each file is read once)."""
    return copy.deepcopy(_loaded(config))


@functools.cache
def full_schedule(config: str, param: str = 'lr', epoch_length: int = EPOCH_LENGTH) -> list:
    return schedule(loaded(config), param, epoch_length)


def fitted(config: str, **length) -> Config:
    cfg = loaded(config)
    fit_run_length(cfg, **length)
    return cfg


def assert_ends_at(values: list, end: float) -> None:
    """The last iteration runs at ``end`` (to within the schedule's last step)."""
    last_step = abs(values[-2] - values[-1])
    assert abs(values[-1] - end) <= last_step + 1e-9, (values[-3:], end)


def assert_same_shape(short: list, full: list, tolerance: float = None) -> None:
    """At every tenth of the run the short schedule is where the full one is (by default
    to within its largest step: both are sampled on their own grid of iterations)."""
    if tolerance is None:
        tolerance = max(abs(a - b) for a, b in zip(short, short[1:])) + 1e-9
    for tenth in range(10):
        fraction = (tenth + 0.5) / 10
        a, b = short[int(fraction * len(short))], full[int(fraction * len(full))]
        assert a == pytest.approx(b, abs=tolerance), (fraction, a, b)


def test_dino_lr_weight_decay_and_epoch_settings_follow_a_shorter_run():
    cfg = fitted(DINO, epochs=10)
    assert cfg.train_cfg.max_epochs == 10
    for param in ('lr', 'weight_decay'):
        full, short = full_schedule(DINO, param), schedule(cfg, param)
        assert len(short) == len(full) // 10
        assert_ends_at(short, full[-1])
        assert_same_shape(short, full)
    lr = schedule(cfg)
    # the warm-up takes 1 of 10 epochs, as 10 of 100
    assert lr[EPOCH_LENGTH // 2] < 0.6 and lr[EPOCH_LENGTH - 1] == pytest.approx(1.0)
    assert full_schedule(DINO, 'weight_decay')[-1] == pytest.approx(10, rel=1e-3)  # 0.04->0.4
    assert cfg.model.head.warmup_teacher_temp_epochs == 0  # none in the 100-epoch recipe
    assert fitted(DINO_300E, epochs=30).model.head.warmup_teacher_temp_epochs == 3  # 30 of 300
    assert cfg.optim_wrapper.freeze_last_layer_epochs == 1  # whole epochs, at least one


def test_only_changing_max_epochs_is_the_trap_this_closes():
    cfg = loaded(DINO)
    cfg.train_cfg.max_epochs = 10
    lr = schedule(cfg)
    assert lr[-1] > 0.3  # the cosine has hardly started: the run ends at a high lr


COCO_EPOCH = 100  # long enough for the 1000-iteration warm-up to end in the full run


@pytest.mark.parametrize('epochs, warmup_iters, milestones', [
    (6, 500, [4, 5]),  # 5.5 rounds to 6, the end: kept one epoch before it
    (24, 2000, [16, 22]),
    (2, 167, [1, 1]),  # both drops in the last epoch
])
def test_mask_rcnn_step_schedule_follows_shorter_and_longer_runs(epochs, warmup_iters,
                                                                   milestones):
    cfg = fitted(MASK_RCNN, epochs=epochs)
    warmup, steps = cfg.param_scheduler
    assert (warmup.end, warmup.by_epoch) == (warmup_iters, False)
    assert (steps.milestones, steps.end) == (milestones, epochs)
    assert not steps.get('convert_to_iter_based')  # still steps once per epoch
    full = full_schedule(MASK_RCNN, epoch_length=COCO_EPOCH)
    short = schedule(cfg, epoch_length=COCO_EPOCH)
    assert len(short) == epochs * COCO_EPOCH
    assert short[-1] == pytest.approx(full[-1]) == pytest.approx(0.01)  # both drops happened
    if epochs == 24:  # whole epochs: the same schedule but for the warm-up's grid
        assert_same_shape(short, full, tolerance=1e-3)


def test_upernet_poly_schedule_follows_the_iterations():
    cfg = fitted(UPERNET, iters=1600)
    warmup, poly = cfg.param_scheduler
    assert (warmup.end, poly.begin, poly.end) == (15, 15, 1600)
    full, short = full_schedule(UPERNET), schedule(cfg)
    assert len(short) == 1600
    assert_ends_at(short, 0.0)
    assert_same_shape(short, full)


def test_fractional_epochs_switch_an_epoch_stepped_schedule_to_iterations():
    cfg = Config(dict(train_cfg=dict(max_epochs=100), param_scheduler=[
        dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5),
        dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=5, end=100)]))
    full = schedule(cfg)
    summary = fit_run_length(cfg, epochs=8)
    assert [s.get('convert_to_iter_based') for s in cfg.param_scheduler] == [True, True]
    assert (cfg.param_scheduler[0].end, cfg.param_scheduler[1].begin) == (0.4, 0.4)
    assert 'convert_to_iter_based' in summary
    short = schedule(cfg)
    assert_ends_at(short, 0.0)
    assert_same_shape(short, full, tolerance=0.03)  # the full one steps once per epoch


def test_the_summary_is_one_line_naming_every_change():
    cfg = loaded(DINO)
    cfg.model.head.warmup_teacher_temp_epochs = 30  # as in the 300-epoch recipe
    summary = fit_run_length(cfg, epochs=10)
    assert '\n' not in summary
    for part in ('train_cfg.max_epochs 100 -> 10', 'param_scheduler.0(LinearLR) end 10->1',
                 'param_scheduler.1(CosineAnnealingLR) begin 10->1 end 100->10 T_max 90->9',
                 'model.head.warmup_teacher_temp_epochs 30->3',
                 'optim_wrapper.freeze_last_layer_epochs 1->1'):
        assert part in summary


@pytest.mark.parametrize('length, message', [
    (dict(iters=100), r'train_cfg.max_epochs=100; give the run length in epochs'),
    (dict(epochs=0), 'positive integer number of epochs, got 0'),
    (dict(epochs=2.5), 'positive integer number of epochs, got 2.5'),
    (dict(epochs=2, iters=3), 'not both'),
])
def test_bad_lengths_are_refused_naming_the_problem(length, message):
    with pytest.raises(ValueError, match=message):
        fit_run_length(loaded(DINO), **length)


def test_a_malformed_run_length_key_is_refused():
    cfg = loaded(DINO)
    cfg.run_length = dict(epoch=3)
    with pytest.raises(ValueError, match=r'run_length must be dict\(epochs=N\)'):
        fit_run_length(cfg)


# ---------------------------------------------------------------- the runner and tools/train.py
@DATASETS.register_module(force=True)
class RunLengthToyDataset(torch.utils.data.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, index):
        return dict(inputs=torch.full((2, ), float(index)))


@MODELS.register_module(force=True)
class RunLengthToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.linear(torch.stack(inputs)).pow(2).mean())


def toy_config(work_dir) -> Config:
    """Ten epochs of 3 iterations: one warm-up epoch, then cosine to 0."""
    return Config(dict(
        model=dict(type='RunLengthToyModel'), work_dir=str(work_dir),
        runner_type='RunLengthRunner', default_scope='mmengine',
        train_dataloader=dict(dataset=dict(type='RunLengthToyDataset'), batch_size=2,
                              sampler=dict(type='DefaultSampler', shuffle=False),
                              collate_fn=dict(type='pseudo_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.01, by_epoch=True, end=1,
                 convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=1, end=10,
                 convert_to_iter_based=True)],
        train_cfg=dict(by_epoch=True, max_epochs=10),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=100),
                           logger=dict(type='LoggerHook', interval=1))))


def test_runner_type_applies_run_length_for_the_libraries_tools(tmp_path):
    cfg = toy_config(tmp_path)
    cfg.merge_from_dict({'run_length.epochs': 2})  # what --cfg-options run_length.epochs=2 does
    runner = RUNNERS.build(cfg)  # as mmpretrain/mmdet/mmseg tools/train.py build runner_type
    assert isinstance(runner, RunLengthRunner) and 'run_length' not in runner.cfg
    runner.train()
    assert (runner.epoch, runner.iter) == (2, 6)
    lr = list(runner.message_hub.get_scalar('train/lr').data[0])
    # the warm-up (0.2 epoch = 0.6 iteration) widened to two iterations: back at (about)
    # the base lr at the second, where the cosine (from iteration 0) has begun
    assert lr[0] == pytest.approx(0.001) and 0.09 < lr[1] <= 0.1
    assert_ends_at(lr, 0.0)
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'run length: train_cfg.max_epochs 10 -> 2 (x0.2)' in log
    assert 'param_scheduler.0(LinearLR) runs over 2 iterations' in log


def test_resumed_schedulers_step_the_runners_optimizer(tmp_path):
    """On resume mmengine passes the built schedulers back to build_param_scheduler."""
    cfg = toy_config(tmp_path)
    cfg.default_hooks.checkpoint.interval = 5
    runner = RUNNERS.build(cfg)
    runner.train()
    full = list(runner.message_hub.get_scalar('train/lr').data[0])
    cfg = toy_config(tmp_path / 'resumed')
    cfg.merge_from_dict(dict(resume=True, load_from=str(tmp_path / 'epoch_5.pth')))
    resumed = RUNNERS.build(cfg)
    resumed.train()
    assert all(s.optimizer is resumed.optim_wrapper for s in resumed.param_schedulers)
    lr = list(resumed.message_hub.get_scalar('train/lr').data[0])
    assert lr[-15:] == pytest.approx(full[-15:]) and lr[-1] < lr[-15]


def test_train_py_epochs_option(tmp_path, monkeypatch):
    import importlib.util
    spec = importlib.util.spec_from_file_location('train_tool', 'tools/train.py')
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    config = tmp_path / 'toy.py'
    toy_config(tmp_path / 'work').dump(str(config))
    built = []
    monkeypatch.setattr(train_tool, 'build_runner',
                        lambda cfg: built.append(cfg) or type('R', (), {'train': lambda s: 0})())
    train_tool.main([str(config), '--epochs', '3', '--no-preflight', '--cfg-options',
                     'param_scheduler.1.eta_min=0.001'])
    cfg = built[0]
    assert cfg.train_cfg.max_epochs == 3
    assert (cfg.param_scheduler[0].end, cfg.param_scheduler[1].begin) == (0.3, 0.3)
    assert cfg.param_scheduler[1].end == 3
    assert cfg.param_scheduler[1].eta_min == 0.001  # --cfg-options apply after, as given
    with pytest.raises(SystemExit):
        train_tool.parse_args([str(config), '--epochs', '3', '--iters', '9'])
