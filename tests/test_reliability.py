"""Reliability: atomic checkpoints, kill -9 and resume, preemption signals and Slurm requeue,
corrupt images, NaN losses, invalid configs and checkpoints, a dying rank
(docs/reliability.md)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

import lkssl_mm  # noqa: F401
from lkssl_mm.datasets import CorruptImageError, StrictLoadImageFromFile, image_bytes_problem
from lkssl_mm.engine.hooks import PREEMPTED_EXIT_CODE
from lkssl_mm.engine.hooks.preemption import requeue_slurm_job
from lkssl_mm.engine.launch import add_safety_hooks, setup_resume
from lkssl_mm.utils.fileio import write_atomically
from lkssl_mm.utils.preflight import ConfigError, check_data_paths, preflight

from .conftest import DINO_DEMO, DINO_OPTIONS, ROOT, data_options, read_scalars, run_tool

DEMO = 'configs/demo/'
DINO = DINO_DEMO
LINEAR = DEMO + 'linear-probe_lkconvnext-demo_synthetic.py'
DET = DEMO + 'mask-rcnn_lkconvnext-demo_fpn_synthetic.py'


# ----------------------------------------------------------------------------- atomic writes
def test_a_crash_during_a_checkpoint_write_keeps_the_previous_file(tmp_path, monkeypatch):
    from mmengine.runner.checkpoint import save_checkpoint
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint({'state_dict': {'w': torch.ones(3)}}, str(path))
    good = path.read_bytes()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies between writing and renaming

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({'state_dict': {'w': torch.zeros(1000)}}, str(path))
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']  # no temporary left


def test_atomic_write_creates_folders(tmp_path):
    write_atomically(b'abc', tmp_path / 'a' / 'b' / 'f.bin')
    assert (tmp_path / 'a' / 'b' / 'f.bin').read_bytes() == b'abc'


# ----------------------------------------------------------------------------- kill -9 + resume
def _train_cmd(config, work_dir, root, task, *options, resume=False):
    cmd = [sys.executable, 'tools/train.py', config, '--work-dir', str(work_dir)]
    if resume:
        cmd.append('--resume')
    return cmd + ['--cfg-options', *data_options(task, root), *options]


def _kill_when(cmd, marker: str, timeout: int = 600) -> None:
    """Start ``cmd`` and SIGKILL it as soon as its output matches the regex ``marker``."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED='1'))
    deadline = time.time() + timeout
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if re.search(marker, line):
            os.kill(proc.pid, signal.SIGKILL)
            break
        assert time.time() < deadline, 'marker never seen'
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, ''.join(seen[-40:])


@pytest.mark.slow
def test_kill_during_pretraining_then_resume_matches_the_uninterrupted_run(synthetic_root,
                                                                          dino_demo_run,
                                                                          tmp_path):
    killed = tmp_path / 'killed'
    _kill_when(_train_cmd(DINO, killed, synthetic_root, 'pretrain', *DINO_OPTIONS),
               r'Epoch\(train\)\s+\[\s*3\]\[\s*2/6\]')
    assert (killed / 'epoch_2.pth').exists() and not (killed / 'epoch_3.pth').exists()
    run_tool(*_train_cmd(DINO, killed, synthetic_root, 'pretrain', *DINO_OPTIONS,
                         resume=True)[1:])
    full = {r['step']: r for r in read_scalars(dino_demo_run) if 'loss' in r}
    resumed = {r['step']: r for r in read_scalars(killed) if 'loss' in r}
    assert sorted(full) == list(range(1, 19)) and set(range(13, 19)) <= set(resumed)
    for step in range(13, 19):  # epoch 3, trained after the resume
        for key in ('loss', 'lr', 'teacher_temp', 'kl_div'):
            assert resumed[step][key] == pytest.approx(full[step][key], rel=1e-4, abs=1e-6), \
                (step, key)


@pytest.mark.slow
def test_kill_during_fine_tuning_then_resume_continues_the_schedule(synthetic_root, tmp_path):
    options = ('train_cfg.max_epochs=3', 'train_dataloader.batch_size=16',
               'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
               'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
               'train_cfg.val_interval=3')
    run_tool(*_train_cmd(LINEAR, tmp_path / 'full', synthetic_root, 'linear',
                         *options)[1:])
    killed = tmp_path / 'killed'
    _kill_when(_train_cmd(LINEAR, killed, synthetic_root, 'linear', *options),
               r'Epoch\(train\)\s+\[\s*2\]\[\s*3/6\]')
    run_tool(*_train_cmd(LINEAR, killed, synthetic_root, 'linear', *options,
                         resume=True)[1:])
    full = {r['step']: r for r in read_scalars(tmp_path / 'full') if 'loss' in r}
    resumed = {r['step']: r for r in read_scalars(killed) if 'loss' in r}
    for step in range(7, 19):  # everything after the epoch-1 checkpoint
        assert resumed[step]['lr'] == pytest.approx(full[step]['lr'])
        assert resumed[step]['loss'] == pytest.approx(full[step]['loss'], rel=1e-4)
    accuracy = [r for r in read_scalars(killed) if 'accuracy/top1' in r][-1]
    expected = [r for r in read_scalars(tmp_path / 'full') if 'accuracy/top1' in r][-1]
    assert accuracy['accuracy/top1'] == pytest.approx(expected['accuracy/top1'])


# ----------------------------------------------------------------------------- corrupt images
@pytest.fixture
def broken_images(synthetic_root, tmp_path):
    """A copy of the tiny ImageNet-style data with one truncated and one garbage image."""
    root = tmp_path / 'imagenet'
    shutil.copytree(synthetic_root / 'imagenet', root)
    lines = (root / 'meta' / 'train.txt').read_text().splitlines()
    truncated = root / 'train' / lines[3].split()[0]
    truncated.write_bytes(truncated.read_bytes()[:300])
    garbage = root / 'train' / lines[5].split()[0]
    garbage.write_bytes(b'this is not an image')
    return tmp_path, truncated, garbage


def test_truncated_and_garbage_files_are_detected(broken_images):
    _, truncated, garbage = broken_images
    assert 'truncated JPEG' in image_bytes_problem(truncated.read_bytes())
    assert image_bytes_problem(b'') == 'the file is empty'
    loader = StrictLoadImageFromFile()
    with pytest.raises(CorruptImageError, match=str(truncated)):
        loader(dict(img_path=str(truncated)))
    with pytest.raises(CorruptImageError, match='cannot be decoded'):
        loader(dict(img_path=str(garbage)))
    skipping = StrictLoadImageFromFile(max_skips=1)
    assert skipping(dict(img_path=str(garbage))) is None
    with pytest.raises(CorruptImageError, match='max_skips=1'):
        skipping(dict(img_path=str(truncated)))


@pytest.mark.slow
def test_a_run_stops_naming_the_bad_file_or_skips_it_within_budget(broken_images, tmp_path):
    root, truncated, _ = broken_images
    base = ['tools/train.py', LINEAR, '--cfg-options', *data_options('linear', root),
            'train_cfg.max_epochs=1', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'train_cfg.val_interval=5']
    stopped = run_tool(*base[:2], '--work-dir', str(tmp_path / 'stop'), *base[2:],
                       check=False, timeout=600)
    assert stopped.returncode != 0
    assert 'CorruptImageError' in stopped.stderr and 'imagenet/train/' in stopped.stderr
    budget = 'train_dataloader.dataset.pipeline.0.max_skips=5'
    skipped = run_tool(*base[:2], '--work-dir', str(tmp_path / 'skip'), *base[2:], budget,
                       timeout=600)
    assert str(truncated) in skipped.stdout + skipped.stderr
    assert (tmp_path / 'skip' / 'epoch_1.pth').exists()


# ----------------------------------------------------------------------------- non-finite loss
class _Dataset(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return dict(inputs=torch.full((2, ), float(idx)))


class _Model(BaseModel):
    """A model whose loss is NaN at the iterations listed in ``nan_at`` (1-based)."""

    def __init__(self, nan_at=()):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.nan_at = set(nan_at)
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.calls += 1
        loss = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs).mean()
        if self.calls in self.nan_at:
            loss = loss * float('nan')
        return dict(loss=loss)


def _toy_runner(work_dir, model, action):
    return Runner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Dataset(), sampler=dict(type='DefaultSampler'),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=8),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='NonFiniteLossHook', action=action, max_skips=2)],
        default_scope='mmengine', experiment_name=f'nan_{action}_{time.time_ns()}')


def test_a_non_finite_loss_stops_and_names_the_iteration(tmp_path):
    runner = _toy_runner(tmp_path, _Model(nan_at=(4, )), 'stop')
    with pytest.raises(FloatingPointError, match=r'iteration 4 \(epoch 1\)') as info:
        runner.train()
    assert 'iter_3.pth' in str(info.value)
    assert sorted(p.name for p in tmp_path.glob('iter_*.pth')) == [
        'iter_1.pth', 'iter_2.pth', 'iter_3.pth']
    last = torch.load(tmp_path / 'iter_3.pth')['state_dict']
    assert all(torch.isfinite(v).all() for v in last.values())


def test_non_finite_steps_can_be_skipped_and_counted(tmp_path):
    model = _Model(nan_at=(2, 5))
    runner = _toy_runner(tmp_path, model, 'skip')
    runner.train()
    assert runner.message_hub.get_info('nonfinite_skips') == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())
    with pytest.raises(FloatingPointError, match='after 2 skipped steps'):
        _toy_runner(tmp_path / 'again', _Model(nan_at=(1, 2, 3)), 'skip').train()


# ----------------------------------------------------------------------------- preemption
def _slurm_stand_ins(tmp_path, *names) -> str:
    """Stand-ins for Slurm commands: each writes its arguments, one per line, to
    ``<name>.args`` and ``$LKSSL_ROOT`` to ``<name>.root`` in tmp_path. Returns a PATH
    that finds them first."""
    fake = tmp_path / 'bin'
    fake.mkdir(exist_ok=True)
    for name in names:
        (fake / name).write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/{name}.args\n'
                                 f'echo "$LKSSL_ROOT" > {tmp_path}/{name}.root\n')
        (fake / name).chmod(0o755)
    return f'{fake}:{os.environ["PATH"]}'


class _Recorder(Hook):
    """Records (epoch, batch index, the batch's sample ids) after every training iteration."""

    def __init__(self):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen.append((runner.epoch, batch_idx, tuple(data_batch['inputs'][:, 0].tolist())))


class _SignalledModel(BaseModel):
    """A linear model that sends ``signum`` to its own process in iteration ``at`` (1-based)."""

    def __init__(self, signum=None, at=None):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        nn.init.constant_(self.linear.weight, 0.1)  # the same start in every run
        nn.init.constant_(self.linear.bias, 0.1)
        self.signum, self.at, self.calls = signum, at, 0

    def forward(self, inputs, data_samples=None, mode='loss'):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), self.signum)
        return dict(loss=(self.linear(inputs) ** 2).mean())


def _preemptible_runner(work_dir, model, recorder, resume_from=None):
    """3 epochs of 4 shuffled batches, an iteration-based lr schedule, epoch checkpoints."""
    return Runner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Dataset(), sampler=dict(type='DefaultSampler'),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.002, momentum=0.9)),
        param_scheduler=dict(type='LinearLR', start_factor=0.1, by_epoch=False, end=12),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=3),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='PreemptionHook'), recorder], randomness=dict(seed=0),
        resume=resume_from is not None, load_from=resume_from,
        default_scope='mmengine', experiment_name=f'preempt_{time.time_ns()}')


@pytest.fixture(scope='module')
def toy_uninterrupted(tmp_path_factory):
    recorder, model = _Recorder(), _SignalledModel()
    _preemptible_runner(tmp_path_factory.mktemp('toy_full'), model, recorder).train()
    assert len(recorder.seen) == 12
    return recorder.seen, model.linear.weight.detach().clone()


@pytest.mark.parametrize('signum, at', [
    (signal.SIGTERM, 6),   # inside epoch 2: stop without requeueing
    (signal.SIGUSR1, 4),   # the last batch of epoch 1, before its end-of-epoch hooks: requeue
])
def test_a_signal_saves_that_iteration_and_the_resume_continues_exactly(
        toy_uninterrupted, tmp_path, monkeypatch, signum, at):
    monkeypatch.setenv('PATH', _slurm_stand_ins(tmp_path, 'scontrol'))
    monkeypatch.setenv('SLURM_JOB_ID', '4242')
    handler = signal.getsignal(signum)
    work, recorder = tmp_path / 'work', _Recorder()
    with pytest.raises(SystemExit) as stop:
        _preemptible_runner(work, _SignalledModel(signum, at), recorder).train()
    assert stop.value.code == PREEMPTED_EXIT_CODE == 75
    assert signal.getsignal(signum) is handler  # the process's handlers are back
    checkpoint = work / f'iter_{at}.pth'
    assert (work / 'last_checkpoint').read_text() == str(checkpoint)
    meta = torch.load(checkpoint)['meta']
    assert (meta['epoch'], meta['iter']) == ((at - 1) // 4, at)  # the epoch is not done
    assert not (work / f'epoch_{(at - 1) // 4 + 1}.pth').exists()
    requeued = tmp_path / 'scontrol.args'
    if signum == signal.SIGUSR1:
        assert requeued.read_text().split() == ['requeue', '4242']
    else:
        assert not requeued.exists()

    resumed, model = _Recorder(), _SignalledModel()
    _preemptible_runner(work, model, resumed, resume_from=str(checkpoint)).train()
    full_seen, full_weight = toy_uninterrupted
    # every batch once, in the uninterrupted order, with the same batch indices
    assert recorder.seen + resumed.seen == full_seen
    assert torch.equal(model.linear.weight, full_weight)
    assert sorted(p.name for p in work.glob('epoch_*.pth'))[-1] == 'epoch_3.pth'


def test_requeue_failures_are_reported_not_raised(monkeypatch):
    monkeypatch.setenv('PATH', '/nonexistent')
    assert 'FileNotFoundError' in requeue_slurm_job('1')


def test_a_requeued_slurm_job_resumes_from_the_last_checkpoint(tmp_path, monkeypatch):
    (tmp_path / 'iter_9.pth').write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_9.pth'))
    cfg = Config(dict(work_dir=str(tmp_path)))
    monkeypatch.setenv('SLURM_RESTART_COUNT', '0')
    assert setup_resume(cfg, None) is None and not cfg.get('resume')
    monkeypatch.setenv('SLURM_RESTART_COUNT', '1')  # set by Slurm in a requeued job
    assert setup_resume(cfg, None) == str(tmp_path / 'iter_9.pth')
    assert cfg.resume and cfg.load_from == str(tmp_path / 'iter_9.pth')


def test_epoch_based_training_loops_become_resumable():
    for train_cfg, expected in [
            (dict(by_epoch=True, max_epochs=3), dict(type='ResumableEpochBasedTrainLoop',
                                                     max_epochs=3)),
            (dict(type='EpochBasedTrainLoop', max_epochs=3),
             dict(type='ResumableEpochBasedTrainLoop', max_epochs=3)),
            (dict(type='IterBasedTrainLoop', max_iters=9), dict(type='IterBasedTrainLoop',
                                                               max_iters=9))]:
        cfg = Config(dict(train_cfg=train_cfg))
        add_safety_hooks(cfg)
        assert cfg.train_cfg == expected
        assert [h['type'] for h in cfg.custom_hooks] == [
            'NonFiniteLossHook', 'RNGStateHook', 'PreemptionHook']


def test_slurm_train_sh_asks_for_the_signal_and_requeues_in_batch_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith('SLURM_')}
    env = dict(env, PATH=_slurm_stand_ins(tmp_path, 'srun', 'sbatch'), PYTHON='python')
    script, train = str(ROOT / 'tools' / 'slurm_train.sh'), str(ROOT / 'tools' / 'train.py')
    run = ['bash', script, 'gpu', 'dino', 'CFG', '--amp']

    subprocess.run(run, env=env, check=True)  # in the foreground, as OpenMMLab's script
    args = (tmp_path / 'srun.args').read_text().splitlines()
    assert args[:4] == ['-p', 'gpu', '--job-name=dino', '--signal=USR1@120']
    assert args[-6:] == ['-u', train, 'CFG', '--launcher', 'slurm', '--amp']

    subprocess.run(run, env=dict(env, SBATCH='1', SIGNAL='USR1@300'), check=True)
    args = (tmp_path / 'sbatch.args').read_text().splitlines()
    assert args[:3] == ['--requeue', '--signal=USR1@300', '-p']
    assert args[-5:] == [script, 'gpu', 'dino', 'CFG', '--amp']

    assert (tmp_path / 'sbatch.root').read_text().strip() == str(ROOT)
    # the batch job runs a spooled copy of the script: one srun step over the allocation
    spooled = tmp_path / 'spool' / 'slurm_script'
    spooled.parent.mkdir()
    shutil.copy(script, spooled)
    subprocess.run(['bash', str(spooled), *run[2:]], check=True,
                   env=dict(env, SBATCH='1', SLURM_JOB_ID='7', LKSSL_ROOT=str(ROOT)))
    args = (tmp_path / 'srun.args').read_text().splitlines()
    assert args == ['--kill-on-bad-exit=1', 'python', '-u', train, 'CFG', '--launcher',
                    'slurm', '--amp']


@pytest.mark.slow
def test_sigusr1_to_train_py_saves_requeues_and_resume_matches_the_uninterrupted_run(
        synthetic_root, dino_demo_run, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED='1', SLURM_JOB_ID='4242',
               PATH=_slurm_stand_ins(tmp_path, 'scontrol'))
    work = tmp_path / 'preempted'
    proc = subprocess.Popen(_train_cmd(DINO, work, synthetic_root, 'pretrain', *DINO_OPTIONS),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    seen = []
    for line in proc.stdout:  # signal it in epoch 2, as Slurm would before a time limit
        seen.append(line)
        if re.search(r'Epoch\(train\)\s+\[\s*2\]\[\s*2/6\]', line):
            os.kill(proc.pid, signal.SIGUSR1)
    assert proc.wait(timeout=300) == PREEMPTED_EXIT_CODE, ''.join(seen[-40:])
    (checkpoint, ) = work.glob('iter_*.pth')
    iteration = int(checkpoint.stem.split('_')[1])
    assert 8 <= iteration < 12  # where the signal arrived, inside epoch 2
    assert (work / 'last_checkpoint').read_text() == str(checkpoint)
    assert torch.load(checkpoint)['meta']['iter'] == iteration
    assert (tmp_path / 'scontrol.args').read_text().split() == ['requeue', '4242']
    assert any(f'SIGUSR1 received: saving iteration {iteration}' in line for line in seen)

    resumed = run_tool(*_train_cmd(DINO, work, synthetic_root, 'pretrain', *DINO_OPTIONS,
                                   resume=True)[1:])
    position = iteration - 6 + 1  # the first batch trained after the resume, in epoch 2
    assert re.search(rf'Epoch\(train\)\s+\[2\]\[\s*{position}/6\]', resumed.stdout)
    full = {r['step']: r for r in read_scalars(dino_demo_run) if 'loss' in r}
    after = {r['step']: r for r in read_scalars(work) if 'loss' in r}
    for step in range(iteration + 1, 19):
        for key in ('loss', 'lr', 'teacher_temp', 'kl_div'):
            assert after[step][key] == pytest.approx(full[step][key], rel=1e-4, abs=1e-6), \
                (step, key)


# ----------------------------------------------------------------------------- invalid configs
def _demo_cfg(config, root, task, **changes) -> Config:
    cfg = Config.fromfile(config)
    for option in data_options(task, root):
        key, value = option.split('=', 1)
        cfg.merge_from_dict({key: value})
    cfg.merge_from_dict(changes)
    return cfg


@pytest.mark.parametrize('changes, message', [
    ({'model.backbone.kernel_size': 8}, 'kernel_size must be an odd int >= 3, got 8'),
    ({'model.backbone.type': 'LKConvNext'}, 'Did you mean: LKConvNeXt'),
    ({'model.neck.in_channels': 512}, 'DINONeck.in_channels is 512'),
    ({'train_dataloader.dataset.data_root': '/nonexistent/imagenet'},
     "train_dataloader.dataset.data_root: folder '/nonexistent/imagenet' does not exist"),
])
def test_invalid_pretraining_configs_fail_before_training(synthetic_root, changes, message):
    cfg = _demo_cfg(DINO, synthetic_root, 'pretrain', **changes)
    with pytest.raises((ConfigError, ValueError), match=message):
        preflight(cfg)


def test_a_detector_neck_that_does_not_fit_the_backbone_is_named(synthetic_root):
    cfg = _demo_cfg(DET, synthetic_root, 'detection', **{'model.neck.in_channels': [8] * 4})
    with pytest.raises(ConfigError, match=r'model.neck does not accept the backbone features '
                       r'\(channels \[32, 64, 128, 256\]\)'):
        preflight(cfg)


def test_a_missing_annotation_file_is_named(synthetic_root):
    cfg = _demo_cfg(DET, synthetic_root, 'detection',
                    **{'val_dataloader.dataset.ann_file': 'annotations/missing.json'})
    with pytest.raises(ConfigError, match='val_dataloader.dataset.ann_file'):
        check_data_paths(cfg)


def test_train_py_reports_a_bad_config_without_writing_anything(synthetic_root, tmp_path):
    work = tmp_path / 'work'
    proc = run_tool('tools/train.py', DINO, '--work-dir', str(work), '--cfg-options',
                    *data_options('pretrain', synthetic_root), 'model.backbone.kernel_size=8',
                    check=False)
    assert proc.returncode != 0 and 'kernel_size must be an odd int' in proc.stderr
    assert not work.exists()


# ----------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope='module')
def det_checkpoint(tmp_path_factory, synthetic_root):
    """A real Mask R-CNN checkpoint (another model than DINO)."""
    work = tmp_path_factory.mktemp('det')
    run_tool('tools/train.py', DET, '--work-dir', str(work), '--cfg-options',
             *data_options('detection', synthetic_root), 'train_cfg.max_epochs=1',
             'train_cfg.val_interval=5')
    return work / 'epoch_1.pth'


def test_resume_or_load_from_another_model_is_refused_and_nothing_is_written(
        synthetic_root, tmp_path, det_checkpoint):
    work = tmp_path / 'dino'
    for extra in (['--resume', str(det_checkpoint)],
                  ['--cfg-options', f'load_from={det_checkpoint}']):
        args = ['tools/train.py', DINO, '--work-dir', str(work), *extra]
        if extra[0] == '--resume':
            args += ['--cfg-options']
        proc = run_tool(*args, *data_options('pretrain', synthetic_root), check=False)
        assert proc.returncode != 0
        assert 'is not a checkpoint of this model (DINO)' in proc.stderr
        assert not work.exists()


def test_a_truncated_checkpoint_is_refused_everywhere(synthetic_root, tmp_path,
                                                      det_checkpoint):
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(det_checkpoint.read_bytes()[:4096])
    before = det_checkpoint.read_bytes()
    resume = run_tool('tools/train.py', DET, '--work-dir', str(tmp_path / 'w'), '--resume',
                      str(truncated), '--cfg-options',
                      *data_options('detection', synthetic_root), check=False)
    assert resume.returncode != 0 and 'not a PyTorch checkpoint archive' in resume.stderr
    pretrained = run_tool('tools/train.py', DET, '--work-dir', str(tmp_path / 'w'),
                          '--pretrained', str(truncated), '--cfg-options',
                          *data_options('detection', synthetic_root), check=False)
    assert pretrained.returncode != 0 and 'not a PyTorch checkpoint archive' in \
        pretrained.stderr
    converted = run_tool('tools/model_converters/ssl2backbone.py', str(truncated),
                         str(det_checkpoint), check=False)
    assert converted.returncode != 0 and 'not a PyTorch checkpoint archive' in converted.stderr
    assert det_checkpoint.read_bytes() == before  # the destination was not touched


# ----------------------------------------------------------------------------- distributed
def _children(pid: int):
    out = subprocess.run(['pgrep', '-P', str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.mark.slow
def test_when_one_rank_dies_the_others_exit_within_a_bounded_time(synthetic_root, tmp_path):
    cmd = ['bash', 'tools/dist_train.sh', DINO, '2', '--work-dir', str(tmp_path),
           '--cfg-options', 'train_cfg.max_epochs=20', 'train_dataloader.batch_size=16',
           'default_hooks.logger.interval=1', 'train_cfg.val_interval=100',
           *data_options('pretrain', synthetic_root)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED='1', PORT='29537',
                                                PYTHON=sys.executable),
                            start_new_session=True)
    try:
        for line in proc.stdout:
            if re.search(r'Epoch\(train\)\s+\[\s*1\]\[\s*1/3\]', line):
                break
        workers = _children(proc.pid)
        while len(workers) == 1:  # bash -> torchrun -> workers
            workers = _children(workers[0])
        assert len(workers) == 2, workers
        killed_at = time.time()
        os.kill(workers[1], signal.SIGKILL)
        proc.stdout.read()
        proc.wait(timeout=180)
        elapsed = time.time() - killed_at
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert elapsed < 120, elapsed
    assert all(not Path(f'/proc/{pid}').exists() for pid in workers)


def test_generated_images_pass_the_strict_loader(synthetic_root):
    loader = StrictLoadImageFromFile()
    for path in sorted((synthetic_root / 'imagenet' / 'val').rglob('*.JPEG'))[:10]:
        assert loader(dict(img_path=str(path)))['img'].shape[2] == 3
    labels = sorted((synthetic_root / 'ade').rglob('*.png'))[0]
    assert isinstance(loader(dict(img_path=str(labels)))['img'], np.ndarray)
