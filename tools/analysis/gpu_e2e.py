#!/usr/bin/env python
"""The real pipeline on one GPU machine, every step timed, its figures kept (docs/gpu.md).

``tools/analysis/gpu_e2e.sh OUT_DIR [--cpu-dry-run]`` runs this file twice: the ``setup``
phase (standard library only) runs ``tools/setup_env.sh`` and prints the environment's
python, which then runs the ``pipeline`` phase:

======================  ================================================================
step                    what
======================  ================================================================
setup                   ``tools/setup_env.sh`` (mmcv's CUDA ops for this GPU, cached)
env                     device, versions, mmcv's CUDA RoIAlign / NMS against the CPU
data                    generated ImageNet / COCO / ADE20K-format data at real sizes
dino_k13                ``configs/dino/dino_lkconvnext-t-k13-ln_8xb64-100e_in1k.py``, AMP,
                        batch 64, the default dispatcher: img/s, peak memory, loss
convert                 ``ssl2backbone.py`` on its checkpoint, checked against Mask R-CNN
knn                     ``KNNTestLoop`` through ``tools/test.py``
mask_rcnn, upernet      the k13 configs from the converted backbone (``--pretrained``),
                        AMP, a few dozen iterations and an evaluation pass
dino_k7 ... dino_swin-t the other DINO configs: img/s, peak memory, loss
dist                    a 2-process ``tools/dist_train.sh`` DINO run (2+ GPUs)
======================  ================================================================

Every step has a time limit and a record in ``OUT_DIR/progress.jsonl`` (one JSON line when
it starts, one with its figures when it ends); the whole run has a budget, and a step that
cannot start with enough time left is recorded as skipped. Steps that finished are not run
again with the same ``--work-dir``: a budget-cut run continues where it stopped.
``--cpu-dry-run`` runs the same steps, configs and tools with toy sizes on the CPU
(``tests/test_gpu_e2e.py``).

The training runs are shortened with ``tools/train.py --epochs N`` / ``--iters N`` (every
schedule follows the run, ``lkssl_mm.engine.run_length``); DINO runs one epoch of a
dataset subset (``train_dataloader.dataset.indices``).

Usage:
    python tools/analysis/gpu_e2e.py setup OUT_DIR [options]     (prints the python to use)
    python tools/analysis/gpu_e2e.py pipeline OUT_DIR [options]
    python tools/analysis/gpu_e2e.py summarise OUT_DIR/progress.jsonl
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[2]
DINO = 'configs/dino/dino_{}_8xb64-100e_in1k.py'
KNN = 'configs/benchmarks/knn_lkconvnext-t-k13-ln_in1k.py'
MASK_RCNN = 'configs/mask_rcnn/mask-rcnn_lkconvnext-t-k13-ln_fpn_1x_coco.py'
UPERNET = 'configs/upernet/upernet_lkconvnext-t-k13-ln_8xb2-amp-160k_ade20k-512x512.py'
#: The backbones of the paper's comparison after the pre-trained one, in the issue's order.
BENCH_BACKBONES = ('lkconvnext-t-k7-ln', 'lkconvnext-t-k9-ln', 'lkconvnext-t-k31-ln',
                   'lkconvnext-t-k51d-ln', 'vit-s-p16', 'swin-t')
PRETRAINED = 'lkconvnext-t-k13-ln'


@dataclass(frozen=True)
class Profile:
    """Sizes and time limits of one kind of run.

    Args:
        name (str): 'gpu' or 'cpu-dry-run'.
        preset (str): Generator preset (``lkssl_mm.datasets.generate``).
        cls_size (int): Side of the ImageNet-format images.
        det (tuple): (side, train images, val images) of the COCO-format data.
        seg (tuple): The same for the ADE20K-format data.
        dino_batch (int): DINO images per GPU (the configs' 64).
        dino_iters (int): Iterations of the pre-training that is converted.
        bench_iters (int): Iterations of each other backbone.
        seg_iters (int): UperNet iterations (Mask R-CNN runs one epoch of ``det``).
        log_every (int): Logging interval (iterations); the first interval is warm-up.
        budget (float): Seconds for the whole run (setup included).
        min_start (float): A step starts only with this many seconds left.
        limits (dict): Time limit of each step kind, in seconds.
        toy (bool): Shrink crops and resizes so the CPU can run the real configs.
    """

    name: str
    preset: str
    cls_size: int
    det: tuple
    seg: tuple
    dino_batch: int
    dino_iters: int
    bench_iters: int
    seg_iters: int
    log_every: int
    budget: float
    min_start: float
    limits: Dict[str, float]
    toy: bool = False


PROFILES = {
    # One H100/H200 with 16 cores: 570 s in all, setup (a fresh mmcv build) included.
    'gpu': Profile('gpu', preset='full', cls_size=256, det=(640, 64, 32), seg=(512, 80, 32),
                   dino_batch=64, dino_iters=48, bench_iters=24, seg_iters=40, log_every=6,
                   budget=570, min_start=20,
                   limits=dict(setup=480, env=30, data=60, dino=120, convert=20, knn=45,
                               mask_rcnn=75, upernet=60, bench=60, dist=60)),
    # The same steps on 2 CPU cores with toy sizes (tests/test_gpu_e2e.py).
    'cpu-dry-run': Profile('cpu-dry-run', preset='tiny', cls_size=64, det=(128, 2, 1),
                           seg=(96, 2, 1), dino_batch=1, dino_iters=1, bench_iters=1,
                           seg_iters=1, log_every=1, budget=3000, min_start=5,
                           # generous: they only stop a hang (2 shared cores are slow)
                           limits=dict(setup=240, env=180, data=180, dino=480, convert=240,
                                       knn=300, mask_rcnn=480, upernet=360, bench=360,
                                       dist=480),
                           toy=True),
}

#: Pseudo transform type of one view group of ``MultiCrop`` (its ``views`` entries).
MULTICROP_VIEW = 'MultiCrop.views'
#: Toy sizes of the dry run: (loader, transform type, field, value it has or None, new value).
#: Only sizes change; the configs, models, recipes and tools are the real ones.
TOY_TRANSFORMS = {
    'dino': [('train_dataloader', MULTICROP_VIEW, 'size', 224, 64),
             ('train_dataloader', MULTICROP_VIEW, 'size', 96, 32)],
    'knn': [(loader, kind, key, None, value)
            for loader in ('test_dataloader', 'test_cfg.memory_dataloader')
            for kind, key, value in (('ResizeEdge', 'scale', 36), ('CenterCrop', 'crop_size', 32))],
    'mask_rcnn': [(loader, 'Resize', 'scale', None, (128, 128))
                  for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')],
    'upernet': [('train_dataloader', 'RandomResize', 'scale', None, (256, 64)),
                ('train_dataloader', 'RandomCrop', 'crop_size', None, (64, 64)),
                ('val_dataloader', 'Resize', 'scale', None, (256, 64)),
                ('test_dataloader', 'Resize', 'scale', None, (256, 64))],
}
TOY_OPTIONS = {'upernet': ['model.data_preprocessor.size=(64,64)',
                           'model.test_cfg.crop_size=(64,64)', 'model.test_cfg.stride=(43,43)']}


class StepError(RuntimeError):
    """A step failed; the message says why (and where its log is)."""


# ---------------------------------------------------------------------------- progress
class Progress:
    """``progress.jsonl``: one JSON object a line, flushed to disk as soon as it is known.

    Args:
        path (Path): The file (appended to).
    """

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record) -> dict:
        record = dict(record, time=round(time.time(), 1))
        with open(self.path, 'a') as f:
            f.write(json.dumps(record) + '\n')
            f.flush()
            os.fsync(f.fileno())
        shown = {k: v for k, v in record.items() if k not in ('time', 'log_tail')}
        print(f'[gpu_e2e] {json.dumps(shown)}', file=sys.stderr, flush=True)
        return record

    def records(self) -> List[dict]:
        if not self.path.exists():
            return []
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]


def read_progress(path) -> List[dict]:
    """The records of a ``progress.jsonl`` file."""
    return Progress(Path(path)).records()


# ---------------------------------------------------------------------------- commands
def run_command(cmd: Sequence[str], limit: float, log_path: Path,
                env: dict | None = None) -> float:
    """Run ``cmd`` from the repository root with a time limit; output goes to ``log_path``.

    The command runs in its own process group, so a time-out ends its data-loading
    workers and torchrun's children too.

    Returns:
        float: Its wall time in seconds.

    Raises:
        StepError: On a non-zero exit or when the limit is reached.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log_path, 'a') as log:
        log.write(f'$ {" ".join(map(str, cmd))}\n')
        log.flush()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ if env is None else env,
                                         PYTHONUNBUFFERED='1'))
        try:
            returncode = proc.wait(timeout=max(limit, 1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise StepError(f'time limit of {limit:.0f} s reached; see {log_path}') from None
    if returncode != 0:
        raise StepError(f'exit {returncode}; see {log_path}')
    return time.time() - start


def log_tail(path: Path, lines: int = 15) -> List[str]:
    """The last ``lines`` lines of a log (for a failed step's record)."""
    if not path.exists():
        return []
    with open(path, errors='replace') as f:
        return [line.rstrip()[:300] for line in f.readlines()[-lines:]]


# ---------------------------------------------------------------------------- figures
def scalar_records(work_dir: Path) -> List[dict]:
    """The records mmengine logged for every run under ``work_dir`` (scalars, test metrics)."""
    from lkssl_mm.utils.run_logs import read_scalars
    return read_scalars(str(work_dir))


def train_figures(records: List[dict], images_per_iter: int) -> dict:
    """Throughput, memory and loss figures of a training run's logged records.

    The first logged interval holds the warm-up (cuDNN and Triton autotuning, data
    workers starting); img/s is taken from the median iteration time of the later ones.
    mmengine logs ``time`` and ``data_time`` averaged over the interval (with
    ``log_processor.window_size`` equal to it) and ``memory``, the peak allocated MB of
    the interval, on CUDA.

    Args:
        records (list[dict]): From :func:`scalar_records`.
        images_per_iter (int): Images per iteration on all processes together.
    """
    train = [r for r in records if 'loss' in r and 'time' in r]
    if not train:
        return dict(iters=0)
    steady = train[1:] or train
    seconds = statistics.median(r['time'] for r in steady)
    data_seconds = statistics.median(r.get('data_time', 0.0) for r in steady)
    losses = [v for r in train for k, v in r.items()
              if k.startswith('loss') and isinstance(v, (int, float))]
    figures = dict(iters=int(train[-1].get('step', len(train))),
                   steady_iters_logged=len(steady),
                   it_per_s=significant(1 / seconds),
                   img_per_s=significant(images_per_iter / seconds),
                   data_wait_share=round(data_seconds / seconds, 3),
                   losses_finite=all(math.isfinite(v) for v in losses),
                   loss_first=round(train[0]['loss'], 4), loss_last=round(train[-1]['loss'], 4))
    memory = [r['memory'] for r in train if 'memory' in r]
    if memory:
        figures['peak_memory_mb'] = max(memory)
    return figures


def significant(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits (0.0123, 12.3, 1230.0)."""
    return float(f'{value:.{digits}g}') if value else 0.0


def metric_figures(records: List[dict], keys: Sequence[str]) -> dict:
    """The last value of each metric in ``keys``; ``metrics_present`` says if all were logged.

    Args:
        records (list[dict]): From :func:`scalar_records`.
        keys (Sequence[str]): Metric names (e.g. ``coco/bbox_mAP``).
    """
    found = {}
    for record in records:
        found.update({k: record[k] for k in keys if k in record})
    return dict(found, metrics_present=all(k in found for k in keys))


# ---------------------------------------------------------------------------- config options
def format_value(value) -> str:
    """A value as ``--cfg-options`` (mmengine's DictAction) reads it back."""
    if isinstance(value, (tuple, list)):
        inner = ','.join(format_value(v) for v in value)
        return f'({inner})' if isinstance(value, tuple) else f'[{inner}]'
    return str(value)


def _pipeline_paths(pipeline: list, prefix: str):
    """(option prefix, transform) of every transform, inside MultiView's lists too.

    Each view group of a ``MultiCrop`` is yielded as a transform of type
    :data:`MULTICROP_VIEW`, so its ``size`` can be set like a crop's scale.
    """
    for index, transform in enumerate(pipeline):
        path = f'{prefix}.{index}'
        yield path, transform
        if transform.get('type') == 'MultiCrop':
            for view_index, view in enumerate(transform.get('views') or []):
                yield f'{path}.views.{view_index}', dict(view, type=MULTICROP_VIEW)
        for view_index, view in enumerate(transform.get('transforms') or []):
            if isinstance(view, (list, tuple)):
                yield from _pipeline_paths(list(view), f'{path}.transforms.{view_index}')


def transform_options(cfg, rules) -> List[str]:
    """``--cfg-options`` that set fields of the pipeline transforms named in ``rules``.

    Args:
        cfg: The config (mmengine ``Config``).
        rules: (loader key, transform type, field, current value or None for any,
            new value) tuples.

    Raises:
        StepError: If a rule matches no transform (the config changed shape).
    """
    options = []
    for loader, kind, key, current, value in rules:
        node = cfg
        for part in loader.split('.'):
            node = node[part]
        matched = [path for path, t in _pipeline_paths(list(node['dataset']['pipeline']),
                                                       f'{loader}.dataset.pipeline')
                   if t.get('type') == kind and (current is None or t.get(key) == current)]
        if not matched:
            raise StepError(f'no {kind} with {key}={current} in {loader}.dataset.pipeline')
        options += [f'{path}.{key}={format_value(value)}' for path in matched]
    return options


# ---------------------------------------------------------------------------- the run
@dataclass
class Step:
    """One step of the run.

    Args:
        name (str): Its name in progress.jsonl.
        limit_kind (str): Key of its time limit in ``Profile.limits``.
        func (callable): Runs it with the time limit; returns its figures.
        needs (tuple[str]): Steps that must have succeeded first.
        when (callable, optional): Returns None to run, or why the step does not apply.
    """

    name: str
    limit_kind: str
    func: Callable[[float], dict]
    needs: tuple = ()
    when: Callable[[], str | None] | None = None


class Pipeline:
    """Runs the steps after the set-up, in the environment the set-up made.

    Args:
        out_dir (Path): Where progress.jsonl, summary.md and logs.tar.gz go.
        work_dir (Path): Data, checkpoints, work dirs and logs (kept between runs).
        profile (Profile): Sizes and limits.
        budget (float): Seconds for the whole run, counted from the set-up's start.
    """

    def __init__(self, out_dir: Path, work_dir: Path, profile: Profile, budget: float):
        self.out_dir, self.work_dir, self.profile = out_dir, work_dir, profile
        self.progress = Progress(out_dir / 'progress.jsonl')
        started = [r['time'] for r in self.progress.records() if r.get('step') == 'run']
        self.deadline = (started[0] if started else time.time()) + budget
        self.data_root = work_dir / 'data'
        self.logs = work_dir / 'logs'
        self.state_path = work_dir / 'done.json'
        work_dir.mkdir(parents=True, exist_ok=True)
        self.done = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        self.python = sys.executable
        self.gpus = self._gpu_count()
        self.current, self.figures_so_far = 'pipeline', {}
        self.env = dict(os.environ)
        if profile.toy:
            self.env['CUDA_VISIBLE_DEVICES'] = ''  # the CPU path even on a GPU machine
            # idle OpenMP threads sleep instead of spinning: on a few shared cores a spinning
            # thread holds the core its partner needs (tools/demo_pipeline/processes.py)
            self.env.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

    @staticmethod
    def _gpu_count() -> int:
        import torch
        return torch.cuda.device_count() if torch.cuda.is_available() else 0

    # ------------------------------------------------------------------ helpers
    def limit(self, kind: str) -> float:
        return min(self.profile.limits[kind], self.deadline - time.time())

    def log_path(self) -> Path:
        """The log of the step that runs now."""
        return self.logs / f'{self.current}.log'

    def tool(self, limit: float, *args) -> float:
        """Run a repository tool with this environment's python (output to the step's log)."""
        return run_command([self.python, *args], limit, self.log_path(), self.env)

    @property
    def amp(self) -> List[str]:
        return ['--amp'] if self.gpus and not self.profile.toy else []

    def roots(self) -> Dict[str, Path]:
        return dict(cls=self.data_root / 'imagenet', det=self.data_root / 'coco',
                    seg=self.data_root / 'ade' / 'ADEChallengeData2016')

    def common_train_options(self, workers: int) -> List[str]:
        interval = self.profile.log_every
        return [f'default_hooks.logger.interval={interval}',
                f'log_processor.window_size={interval}', 'randomness.seed=0',
                f'train_dataloader.num_workers={workers}']

    def workers(self, wanted: int) -> int:
        """Data-loading processes: the config's, at most the cores less two (1 when toy)."""
        if self.profile.toy:
            return 1
        return max(1, min(wanted, (os.cpu_count() or 2) - 2))

    def toy_options(self, kind: str, config: str) -> List[str]:
        if not self.profile.toy:
            return []
        from mmengine.config import Config
        cfg = Config.fromfile(str(ROOT / config))
        return transform_options(cfg, TOY_TRANSFORMS.get(kind, [])) + TOY_OPTIONS.get(kind, [])

    def without_amp(self, config: str) -> str:
        """A config inheriting ``config`` with its ``AmpOptimWrapper`` made an ``OptimWrapper``.

        mmengine's AMP wrapper refuses to be built without CUDA, and ``--cfg-options``
        cannot delete its ``loss_scale``; everything else (constructor, optimizer, layer
        decay) stays the config's.
        """
        from mmengine.config import Config
        wrapper = Config.fromfile(str(ROOT / config)).optim_wrapper.to_dict()
        wrapper = {k: v for k, v in wrapper.items() if k not in ('type', 'loss_scale', 'dtype')}
        path = self.work_dir / 'configs' / f'{Path(config).stem}_no-amp.py'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'_base_ = [{str(ROOT / config)!r}]\noptim_wrapper = dict('
                        f"_delete_=True, type='OptimWrapper', **{wrapper!r})\n")
        return str(path)

    # ------------------------------------------------------------------ steps
    def env_check(self, limit: float) -> dict:
        out = self.work_dir / 'env.json'
        self.tool(limit, __file__, '_env', str(out))
        return json.loads(out.read_text())

    def make_data(self, limit: float) -> dict:
        out = self.work_dir / 'data.json'
        self.tool(limit, __file__, '_data', str(self.data_root), self.profile.name,
                  str(out))
        return json.loads(out.read_text())

    def dino(self, backbone: str, iters: int, limit: float, keep_checkpoint: bool,
             gpus: int = 1) -> dict:
        """DINO with the real config of ``backbone``, ``iters`` iterations (one epoch)."""
        config = DINO.format(backbone)
        work = self.work_dir / self.current
        batch = self.profile.dino_batch
        options = [f'train_dataloader.dataset.data_root={self.roots()["cls"]}',
                   f'train_dataloader.dataset.indices={iters * batch * gpus}',
                   f'train_dataloader.batch_size={batch}',
                   *self.common_train_options(self.workers(10)),
                   # the configs save every 10 epochs: this run saves its one epoch or nothing
                   'default_hooks.checkpoint.interval=1' if keep_checkpoint
                   else 'default_hooks.checkpoint.save_last=False',
                   *self.toy_options('dino', config)]
        args = [config, '--work-dir', work, '--epochs', '1', *self.amp, '--cfg-options',
                *options]
        try:
            if gpus == 1:
                seconds = self.tool(limit, 'tools/train.py', *args)
            else:
                env = dict(self.env, PYTHON=self.python, PORT=str(29600 + os.getpid() % 100))
                seconds = run_command(['bash', 'tools/dist_train.sh', args[0], str(gpus),
                                       *args[1:]], limit, self.log_path(), env)
        finally:
            self.figures_so_far = train_figures(scalar_records(work), batch * gpus)
        figures = dict(config=config, batch_per_gpu=batch, gpus=gpus,
                       amp=bool(self.amp), seconds_with_startup=round(seconds, 1),
                       **self.figures_so_far)
        if keep_checkpoint:
            checkpoint = work / 'epoch_1.pth'
            if not checkpoint.exists():
                raise StepError(f'no checkpoint {checkpoint}')
            figures['checkpoint'] = str(checkpoint)
        return figures

    def convert(self, limit: float) -> dict:
        source = Path(self.done['dino_k13']['checkpoint'])
        out = self.work_dir / 'backbones' / 'dino_lkconvnext-t-k13-ln_teacher.pth'
        seconds = self.tool(limit, 'tools/model_converters/ssl2backbone.py', source,
                            out, '--which', 'teacher', '--config', MASK_RCNN)
        return dict(backbone=str(out), size_mb=round(out.stat().st_size / 2**20, 1),
                    seconds_with_startup=round(seconds, 1))

    def knn(self, limit: float) -> dict:
        backbone = self.done['convert']['backbone']
        work = self.work_dir / 'knn'
        cls = self.roots()['cls']
        options = [f'{k}.dataset.data_root={cls}'
                   for k in ('test_dataloader', 'test_cfg.memory_dataloader')]
        options += [f'{k}.num_workers={self.workers(10)}'
                    for k in ('test_dataloader', 'test_cfg.memory_dataloader')]
        seconds = self.tool(limit, 'tools/test.py', KNN, backbone, '--work-dir', work,
                            '--cfg-options', *options, *self.toy_options('knn', KNN))
        images = sum(self.done['data']['cls_images'].values())
        return self.checked(dict(config=KNN, seconds_with_startup=round(seconds, 1),
                                 images=images, **metric_figures(
                                     scalar_records(work), ['knn/top1_k20', 'knn/top1_k200'])))

    def checked(self, figures: dict) -> dict:
        """``figures``, or a StepError (keeping them) when a metric was not logged."""
        if not figures.get('metrics_present'):
            self.figures_so_far = figures
            raise StepError('the evaluation logged no metric (see the log)')
        return figures

    def finetune(self, kind: str, config: str, length: str, metrics: Sequence[str],
                 limit: float, options: Sequence[str]) -> dict:
        """Train ``config`` from the converted backbone, then evaluate.

        ``length`` is ``'epochs=N'`` or ``'iters=N'``: ``tools/train.py --epochs N`` /
        ``--iters N`` (every schedule follows).
        """
        unit, count = length.split('=')
        work = self.work_dir / kind
        amp = bool(self.gpus) and not self.profile.toy
        args = [config if amp else self.without_amp(config), '--work-dir', work,
                f'--{unit}', count, '--pretrained', self.done['convert']['backbone'],
                '--cfg-options', f'train_cfg.val_interval={count}',
                'default_hooks.checkpoint.save_last=False',
                *self.common_train_options(self.workers(4)), *options,
                *self.toy_options(kind, config)]
        try:
            seconds = self.tool(limit, 'tools/train.py', *args)
        finally:
            records = scalar_records(work)
            self.figures_so_far = train_figures(records, 2)
        return self.checked(dict(config=config, batch_per_gpu=2, amp=amp,
                                 seconds_with_startup=round(seconds, 1), **self.figures_so_far,
                                 **metric_figures(records, metrics)))

    def mask_rcnn(self, limit: float) -> dict:
        from lkssl_mm.datasets import DET_CLASSES
        det = self.roots()['det']
        ann = det / 'annotations' / 'instances_val2017.json'
        classes = format_value(tuple(DET_CLASSES))
        loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
        options = [f'{k}.dataset.data_root={det}/' for k in loaders]
        # the generated data's 4 categories, for the data and the heads (an 80-class head
        # predicts labels that CocoMetric cannot map to the annotation file's categories)
        options += [f'{k}.dataset.metainfo.classes={classes}' for k in loaders]
        options += [f'model.roi_head.{head}.num_classes={len(DET_CLASSES)}'
                    for head in ('bbox_head', 'mask_head')]
        options += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
        # After a few dozen iterations the fresh box head's class scores are still about
        # uniform (1/81, below mmdet's 0.05 threshold): CocoMetric would get no detection
        # and log no AP. The evaluation pass keeps every box instead.
        options.append('model.test_cfg.rcnn.score_thr=0.0')
        return self.finetune('mask_rcnn', MASK_RCNN, 'epochs=1',
                             ['coco/bbox_mAP', 'coco/segm_mAP'],
                             limit, options)

    def upernet(self, limit: float) -> dict:
        seg = self.roots()['seg']
        options = [f'{k}.dataset.data_root={seg}'
                   for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
        return self.finetune('upernet', UPERNET, f'iters={self.profile.seg_iters}', ['mIoU'],
                             limit, options)

    def steps(self) -> List[Step]:
        p = self.profile

        def bench(backbone):
            return Step(f'dino_{backbone.replace("lkconvnext-t-", "").replace("-ln", "")}',
                        'bench', lambda limit: self.dino(backbone, p.bench_iters, limit, False),
                        needs=('data', ))

        def two_gpus():
            if self.profile.toy:
                return None  # two gloo processes on the CPU
            return None if self.gpus >= 2 else f'{self.gpus} GPU(s); needs 2'

        return [
            Step('env', 'env', self.env_check),
            Step('data', 'data', self.make_data),
            Step('dino_k13', 'dino',
                 lambda limit: self.dino(PRETRAINED, p.dino_iters, limit, True),
                 needs=('data', )),
            Step('convert', 'convert', self.convert, needs=('dino_k13', )),
            Step('knn', 'knn', self.knn, needs=('convert', )),
            Step('mask_rcnn', 'mask_rcnn', self.mask_rcnn, needs=('convert', )),
            Step('upernet', 'upernet', self.upernet, needs=('convert', )),
            *[bench(backbone) for backbone in BENCH_BACKBONES],
            Step('dist', 'dist',
                 lambda limit: self.dino(PRETRAINED, p.bench_iters, limit, False, gpus=2),
                 needs=('data', ), when=two_gpus),
        ]

    # ------------------------------------------------------------------ driver
    def run(self, only: Sequence[str] | None = None) -> List[dict]:
        """Run (or reuse) every step; returns the records written."""
        written = []
        for step in self.steps():
            if only and step.name not in only:
                continue
            written.append(self.run_step(step))
        return written

    def run_step(self, step: Step) -> dict:
        if step.name in self.done:
            return self.progress.write(**{'step': step.name, 'status': 'ok',
                                          **self.done[step.name], 'reused': True})
        missing = [n for n in step.needs if n not in self.done]
        reason = step.when() if step.when else None
        if missing:
            reason = f'needs {", ".join(missing)}'
        limit = self.limit(step.limit_kind)
        if reason is None and limit < self.profile.min_start:
            reason = f'out of budget ({max(limit, 0):.0f} s left)'
        if reason:
            return self.progress.write(step=step.name, status='skipped', reason=reason)
        self.progress.write(step=step.name, status='started', limit_s=round(limit))
        start = time.time()
        self.current, self.figures_so_far = step.name, {}
        try:
            figures = step.func(limit)
        except Exception as err:  # a failed step is recorded and the run goes on
            return self.progress.write(**{
                'step': step.name, 'status': 'failed', **self.figures_so_far,
                'seconds': round(time.time() - start, 1), 'limit_s': round(limit),
                'error': f'{type(err).__name__}: {err}'[:500],
                'log_tail': log_tail(self.log_path())})
        self.done[step.name] = figures
        self.state_path.write_text(json.dumps(self.done, indent=1))
        return self.progress.write(**{'step': step.name, 'status': 'ok', **figures,
                                      'seconds': round(time.time() - start, 1),
                                      'limit_s': round(limit)})

    def finish(self) -> str:
        """Write summary.md and logs.tar.gz into the output folder; return the summary."""
        summary = summarise(self.progress.records())
        (self.out_dir / 'summary.md').write_text(summary)
        with tarfile.open(self.out_dir / 'logs.tar.gz', 'w:gz') as tar:
            if self.logs.exists():
                tar.add(self.logs, arcname='logs')
        return summary


# ---------------------------------------------------------------------------- summary
SUMMARY_FIGURES = ('img_per_s', 'it_per_s', 'peak_memory_mb', 'data_wait_share',
                   'losses_finite', 'loss_first', 'loss_last', 'knn/top1_k20',
                   'coco/bbox_mAP', 'coco/segm_mAP', 'mIoU', 'metrics_present')
#: The tables of docs/gpu.md: (title, columns as (header, record key), step names).
SUMMARY_TABLES = (
    ('DINO pre-training', (('img/s/GPU', 'img_per_s'), ('peak memory (MB)', 'peak_memory_mb'),
                           ('data-wait share', 'data_wait_share'),
                           ('losses finite', 'losses_finite'), ('config', 'config')),
     ('dino_k13', 'dino_k7', 'dino_k9', 'dino_k31', 'dino_k51d', 'dino_vit-s-p16',
      'dino_swin-t', 'dist')),
    ('Transfer from the converted k13 backbone',
     (('it/s', 'it_per_s'), ('img/s', 'img_per_s'), ('peak memory (MB)', 'peak_memory_mb'),
      ('losses finite', 'losses_finite'), ('metrics present', 'metrics_present'),
      ('config', 'config')),
     ('knn', 'mask_rcnn', 'upernet')),
)


def _cells(record: dict, keys: Sequence[str]) -> List[str]:
    """A table row's cells: the figures of a step that ran, else its status first."""
    if record.get('status') != 'ok':
        return [record.get('status', 'not run')] + [''] * (len(keys) - 1)
    return [str(record.get(key, '')).replace('|', '/') for key in keys]


def summarise(records: List[dict]) -> str:
    """A markdown summary of ``progress.jsonl``: device, the docs/gpu.md tables, every step."""
    last = {}
    for record in records:
        if record.get('step') != 'run':
            last[record['step']] = record
    lines = ['# gpu_e2e summary', '']
    env = last.get('env', {})
    if env.get('status') == 'ok':
        lines += [f'device: {env.get("device")} x{env.get("gpus")} ({env.get("nvidia_smi", "")}), '
                  f'torch {env.get("torch")} (CUDA {env.get("cuda")}, cuDNN {env.get("cudnn")}), '
                  f'triton {env.get("triton")}, mmcv {env.get("mmcv")} (CUDA ops: '
                  f'{env.get("mmcv_cuda_ops")}), mmengine {env.get("mmengine")}, mmpretrain '
                  f'{env.get("mmpretrain")}, mmdet {env.get("mmdet")}, mmseg '
                  f'{env.get("mmseg")}, numpy {env.get("numpy")}, opencv {env.get("cv2")}', '']
    setup = last.get('setup', {})
    if 'mmcv_build_s' in setup:
        lines += [f'mmcv build: {setup["mmcv_build_s"]} s ({setup.get("mmcv_key")})', '']
    for title, columns, steps in SUMMARY_TABLES:
        lines += [f'{title}:', '', '| step | ' + ' | '.join(h for h, _ in columns) + ' |',
                  '|---' * (len(columns) + 1) + '|']
        keys = [key for _, key in columns]
        lines += [f'| {step} | ' + ' | '.join(_cells(last.get(step, {}), keys)) + ' |'
                  for step in steps]
        lines.append('')
    lines += ['Every step:', '', '| step | status | seconds (limit) | figures |',
              '|---|---|---|---|']
    for name, record in last.items():
        figures = ', '.join(f'{k} {record[k]}' for k in SUMMARY_FIGURES if k in record)
        if record.get('status') in ('skipped', 'failed'):
            figures = (figures + '; ' if figures else '') + str(
                record.get('reason') or record.get('error'))
        seconds = record.get('seconds', '')
        if 'limit_s' in record:
            seconds = f'{seconds} ({record["limit_s"]})'
        status = record.get('status', '') + (' (earlier run)' if record.get('reused') else '')
        lines.append(f'| {name} | {status} | {seconds} | {figures.replace("|", "/")} |')
    return '\n'.join(lines) + '\n'


# ---------------------------------------------------------------------------- set-up phase
def setup_phase(out_dir: Path, profile: Profile, budget: float) -> int:
    """Run tools/setup_env.sh (``--plan`` in the dry run); print the python it names."""
    progress = Progress(out_dir / 'progress.jsonl')
    progress.write(step='run', profile=profile.name, budget_s=budget,
                   command=' '.join(sys.argv))
    env = dict(os.environ)
    if 'VIRTUAL_ENV' not in env and sys.prefix != sys.base_prefix:
        import importlib.util
        if importlib.util.find_spec('torch') is not None:
            env['VIRTUAL_ENV'] = sys.prefix  # the environment that already holds torch
    cmd = ['bash', 'tools/setup_env.sh'] + (['--plan'] if profile.toy else [])
    limit = min(profile.limits['setup'], budget)
    progress.write(step='setup', status='started', limit_s=round(limit),
                   environment=env.get('VIRTUAL_ENV', str(ROOT / '.venv')),
                   wheelhouse=env.get('LKSSL_WHEELHOUSE'))
    start = time.time()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=limit)
    except subprocess.TimeoutExpired as err:
        stderr = err.stderr.decode() if isinstance(err.stderr, bytes) else err.stderr or ''
        progress.write(step='setup', status='failed', seconds=round(time.time() - start, 1),
                       error=f'time limit of {limit:.0f} s reached',
                       log_tail=stderr.splitlines()[-15:])
        return 1
    lines = proc.stderr.splitlines()
    sys.stderr.write(proc.stderr)
    record = dict(step='setup', seconds=round(time.time() - start, 1), limit_s=round(limit),
                  plan_only=profile.toy)
    for line in lines:
        built = re.match(r'\[setup_env\] mmcv build: (\d+) s \(([^,]+),', line)
        if built:
            record.update(mmcv_build_s=int(built.group(1)), mmcv_key=built.group(2))
        if line.startswith('[setup_env] ') and 'mmcv' in line:
            record.setdefault('mmcv', []).append(line.split('] ', 1)[1])
    python = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ''
    if proc.returncode != 0 or not python:
        progress.write(**record, status='failed', error=f'exit {proc.returncode}',
                       log_tail=lines[-15:])
        return 1
    if 'mmcv_key' in record:  # a fresh build: keep the wheel with the results
        cache = Path(env.get('LKSSL_CACHE') or Path.home() / '.cache' / 'lkssl_mm')
        for wheel in (cache / 'wheels' / record['mmcv_key']).glob('mmcv-*.whl'):
            kept = out_dir / 'mmcv_wheel' / record['mmcv_key'] / wheel.name
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, kept)
            record['mmcv_wheel'] = dict(path=str(kept), mb=round(wheel.stat().st_size / 2**20, 1))
    progress.write(**record, status='ok', python=python,
                   kept_from_machine=[line.split(': ', 1)[1] for line in lines
                                      if 'kept from the machine' in line])
    print(python)
    return 0


# ---------------------------------------------------------------------------- helpers run
def env_report(out: str) -> None:
    """Versions, device and a check of mmcv's compiled ops on it (``_env``)."""
    import importlib

    import numpy as np
    import torch
    report = dict(torch=torch.__version__, cuda=torch.version.cuda,
                  cudnn=torch.backends.cudnn.version(), numpy=np.__version__,
                  gpus=torch.cuda.device_count() if torch.cuda.is_available() else 0,
                  python=sys.version.split()[0], cores=os.cpu_count())
    report['device'] = torch.cuda.get_device_name(0) if report['gpus'] else 'cpu'
    for name, module in (('mmcv', 'mmcv'), ('mmengine', 'mmengine'),
                         ('mmpretrain', 'mmpretrain'), ('mmdet', 'mmdet'), ('mmseg', 'mmseg'),
                         ('triton', 'triton'), ('cv2', 'cv2')):
        try:
            report[name] = importlib.import_module(module).__version__
        except Exception as err:  # noqa: BLE001  (reported, not fatal here)
            report[name] = f'not importable: {err}'
    if report['gpus']:
        smi = shutil.which('nvidia-smi')
        if smi:
            report['nvidia_smi'] = subprocess.run(
                [smi, '--query-gpu=name,driver_version,memory.total,clocks.max.sm',
                 '--format=csv,noheader'], capture_output=True, text=True).stdout.strip()
    report['mmcv_cuda_ops'] = check_mmcv_ops(torch)
    # numpy 2 makes mmcv 2.1.0's adjust_hue (DINO's colour jitter) raise an OverflowError
    import mmcv
    mmcv.adjust_hue(np.full((8, 8, 3), 100, np.uint8), -0.1)
    report['adjust_hue'] = 'ok'
    Path(out).write_text(json.dumps(report))


def check_mmcv_ops(torch) -> str:
    """Compare mmcv's RoIAlign and NMS on the GPU with its CPU ops ('cpu only' without one)."""
    from mmcv.ops import nms, roi_align
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(2, 8, 32, 32, generator=gen)
    xy = torch.rand(16, 2, generator=gen) * 20
    boxes = torch.cat([xy, xy + 4 + torch.rand(16, 2, generator=gen) * 8], 1)
    rois = torch.cat([torch.randint(0, 2, (16, 1), generator=gen).float(), boxes], 1)
    scores = torch.rand(16, generator=gen)
    cpu_align = roi_align(features, rois, (7, 7), 1.0, 2, 'avg', True)
    cpu_keep = nms(boxes, scores, 0.5)[1]
    if not torch.cuda.is_available():
        return 'cpu only (no GPU)'
    gpu_align = roi_align(features.cuda(), rois.cuda(), (7, 7), 1.0, 2, 'avg', True).cpu()
    gpu_keep = nms(boxes.cuda(), scores.cuda(), 0.5)[1].cpu()
    if not torch.allclose(cpu_align, gpu_align, atol=1e-4) or not torch.equal(cpu_keep,
                                                                               gpu_keep):
        raise RuntimeError('mmcv CUDA RoIAlign / NMS differ from the CPU ops')
    return 'ok (RoIAlign and NMS equal the CPU ops)'


def make_data(root: str, profile_name: str, out: str) -> None:
    """Generated data at the profile's sizes (``_data``); see :func:`rescale_coco`."""
    from lkssl_mm.datasets import generate
    profile = PROFILES[profile_name]
    root = Path(root)
    start = time.time()
    source = root / 'generated'
    meta = generate(source, size=profile.preset, seed=0, img_size=profile.cls_size,
                    workers=os.cpu_count() or 1, verbose=True)
    cls_dir = root / 'imagenet'
    if cls_dir.is_symlink() or cls_dir.exists():
        cls_dir.unlink() if cls_dir.is_symlink() else shutil.rmtree(cls_dir)
    cls_dir.symlink_to(source / meta['tasks']['cls']['data_root'])
    side, n_train, n_val = profile.det
    det = rescale_coco(source / meta['tasks']['det']['data_root'], root / 'coco', side,
                       dict(train=n_train, val=n_val))
    side, n_train, n_val = profile.seg
    seg = rescale_ade(source / meta['tasks']['seg']['data_root'],
                      root / 'ade' / 'ADEChallengeData2016', side,
                      dict(train=n_train, val=n_val))
    Path(out).write_text(json.dumps(dict(
        cls_images=meta['tasks']['cls']['num_images'], cls_size=profile.cls_size,
        det_images=det, det_size=profile.det[0], seg_images=seg, seg_size=profile.seg[0],
        generate_and_rescale_s=round(time.time() - start, 1))))


def rescale_coco(src: Path, dst: Path, side: int, counts: Dict[str, int]) -> Dict[str, int]:
    """The first images of a generated COCO-format set, rescaled to ``side`` px.

    ``lkssl_mm.datasets.generate`` has one image size per preset (256 px at most for
    detection); this adapter brings them to COCO's sizes (boxes, polygons and areas
    scaled with the image).

    Args:
        src (Path): The generated ``coco`` folder.
        dst (Path): The folder to write.
        side (int): Side of the written images.
        counts (dict): Images to keep per split.
    """
    from PIL import Image
    written = {}
    for split, count in counts.items():
        ann = json.loads((src / 'annotations' / f'instances_{split}2017.json').read_text())
        images = ann['images'][:count]
        keep = {image['id'] for image in images}
        (dst / f'{split}2017').mkdir(parents=True, exist_ok=True)
        scales = {}
        for image in images:
            scales[image['id']] = side / image['width']
            with Image.open(src / f'{split}2017' / image['file_name']) as img:
                img.convert('RGB').resize((side, side), Image.BILINEAR).save(
                    dst / f'{split}2017' / image['file_name'], quality=92)
            image.update(width=side, height=side)
        annotations = []
        for a in ann['annotations']:
            if a['image_id'] in keep:
                s = scales[a['image_id']]
                annotations.append(dict(a, bbox=[v * s for v in a['bbox']], area=a['area'] * s * s,
                                        segmentation=[[v * s for v in poly]
                                                      for poly in a['segmentation']]))
        (dst / 'annotations').mkdir(parents=True, exist_ok=True)
        (dst / 'annotations' / f'instances_{split}2017.json').write_text(
            json.dumps(dict(ann, images=images, annotations=annotations)))
        written[split] = len(images)
    return written


def rescale_ade(src: Path, dst: Path, side: int, counts: Dict[str, int]) -> Dict[str, int]:
    """The first images of a generated ADE20K-format set, rescaled to ``side`` px.

    Images are resized bilinearly, label maps with nearest neighbours (labels stay labels).

    Args:
        src (Path): The generated ``ADEChallengeData2016`` folder.
        dst (Path): The folder to write.
        side (int): Side of the written images.
        counts (dict): Images to keep per split ('train' / 'val').
    """
    from PIL import Image
    written = {}
    for split, count in counts.items():
        folder = dict(train='training', val='validation')[split]
        names = sorted(p.stem for p in (src / 'images' / folder).glob('*.jpg'))[:count]
        for kind, suffix, resample in (('images', '.jpg', Image.BILINEAR),
                                       ('annotations', '.png', Image.NEAREST)):
            (dst / kind / folder).mkdir(parents=True, exist_ok=True)
            for name in names:
                with Image.open(src / kind / folder / f'{name}{suffix}') as img:
                    img.resize((side, side), resample).save(dst / kind / folder / f'{name}{suffix}')
        written[split] = len(names)
    return written


# ---------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('phase', choices=('setup', 'pipeline', 'summarise', '_env', '_data'))
    parser.add_argument('target', help='OUT_DIR (setup, pipeline) or progress.jsonl (summarise)')
    parser.add_argument('extra', nargs='*', help=argparse.SUPPRESS)
    parser.add_argument('--cpu-dry-run', action='store_true',
                        help='the same steps with toy sizes on the CPU')
    parser.add_argument('--work-dir', help='data, checkpoints and logs (default: OUT_DIR/work); '
                        'finished steps are reused from it')
    parser.add_argument('--budget', type=float,
                        help='seconds for the whole run, set-up included (default: the '
                        "profile's, 570 on a GPU)")
    parser.add_argument('--only', help='comma-separated steps to run (others are not run)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.phase == 'summarise':
        print(summarise(read_progress(args.target)), end='')
        return 0
    if args.phase == '_env':
        env_report(args.target)
        return 0
    if args.phase == '_data':
        make_data(args.target, *args.extra)
        return 0
    profile = PROFILES['cpu-dry-run' if args.cpu_dry_run else 'gpu']
    budget = args.budget or profile.budget
    out_dir = Path(args.target).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.phase == 'setup':
        return setup_phase(out_dir, profile, budget)
    work_dir = Path(args.work_dir).resolve() if args.work_dir else out_dir / 'work'
    pipeline = Pipeline(out_dir, work_dir, profile, budget)
    pipeline.run(args.only.split(',') if args.only else None)
    print(pipeline.finish(), end='')
    failed = [r for r in pipeline.progress.records() if r.get('status') == 'failed']
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
