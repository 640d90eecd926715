"""Shared set-up of ``tools/train.py`` and ``tools/test.py`` for every task.

The config's ``default_scope`` (mmpretrain, mmdet or mmseg) decides which
library's registries build it; these helpers only translate the command line
into config fields and make distributed runs work on CPU-only machines.
"""
import argparse
import copy
import datetime
import importlib.util
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from lkssl_mm.utils.builder import build_model
from lkssl_mm.utils.preflight import resolve_resume
from lkssl_mm.utils.ssl_checkpoint import check_backbone_checkpoint

from .optimizers import AMP_WRAPPERS
from .run_length import RunLengthRunner, fit_run_length

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')

#: ``tools/train.py --vis``: the mmengine visualization backend written beside
#: the local JSON log (``LocalVisBackend``, always kept), and the package it needs.
VIS_BACKENDS = {
    'tensorboard': (dict(type='TensorboardVisBackend'), 'tensorboard'),
    'wandb': (dict(type='WandbVisBackend', init_kwargs=dict(project='lkssl_mm')), 'wandb'),
    'none': (None, None),
}


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by train.py and test.py."""
    parser.add_argument('--work-dir', help='directory for logs and checkpoints '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config fields, e.g. train_cfg.max_epochs=2')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher (tools/dist_train.sh uses pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(path: str, args: argparse.Namespace) -> Config:
    """Load ``path``, apply ``--epochs``/``--iters``, ``--cfg-options``, the launcher, the work dir.

    The run length rescales the schedules written in the config file
    (:func:`~lkssl_mm.engine.run_length.fit_run_length`); ``--cfg-options``
    come after it, so a value given there is used as given.

    Raises:
        FileNotFoundError: If the config file does not exist.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    epochs, iters = getattr(args, 'epochs', None), getattr(args, 'iters', None)
    if epochs is not None or iters is not None:
        print_log(fit_run_length(cfg, epochs=epochs, iters=iters), logger='current')
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(path))[0])
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return cfg


def enable_amp(cfg: Config) -> None:
    """Switch the optimizer wrapper to its mixed-precision counterpart.

    Raises:
        RuntimeError: Without CUDA (mmengine's AMP wrappers need a GPU).
    """
    if not torch.cuda.is_available():
        raise RuntimeError('--amp needs a CUDA GPU (mmengine AmpOptimWrapper); '
                           'run without --amp on this machine')
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type in AMP_WRAPPERS.values():
        print_log(f'{wrapper_type} already uses AMP', logger='current')
        return
    if wrapper_type not in AMP_WRAPPERS:
        raise ValueError(f'--amp does not know the AMP form of optim_wrapper.type='
                         f'{wrapper_type!r}; set it in the config instead')
    cfg.optim_wrapper.type = AMP_WRAPPERS[wrapper_type]
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def setup_resume(cfg: Config, resume: Optional[str]) -> Optional[str]:
    """Resolve ``--resume``: alone, the work dir's last checkpoint; else the given path.

    A requeued Slurm job (``$SLURM_RESTART_COUNT`` > 0) resumes from the work
    dir's last checkpoint without ``--resume``, as after a preemption
    (:class:`~lkssl_mm.engine.hooks.PreemptionHook`).

    Returns:
        str | None: The checkpoint the run will resume from (None: nothing to
        resume, the run starts from scratch).

    Raises:
        FileNotFoundError: If an explicit checkpoint does not exist.
    """
    restarts = os.environ.get('SLURM_RESTART_COUNT', '0')
    if resume is None and restarts.isdigit() and int(restarts) > 0:
        print_log(f'requeued Slurm job (SLURM_RESTART_COUNT={restarts}): resuming from the '
                  'last checkpoint in the work dir', logger='current')
        resume = 'auto'
    if resume is None:
        return None
    if resume == 'auto':
        resume = resolve_resume(cfg.work_dir)
        if resume is None:
            print_log(f'--resume: no checkpoint in {cfg.work_dir}; starting from scratch',
                      logger='current', level=30)
            return None
    elif not osp.isfile(resume):
        raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
    cfg.resume = True
    cfg.load_from = resume
    return resume


def setup_cpu_distributed(cfg: Config) -> None:
    """Make ``--launcher pytorch`` work without CUDA: gloo, no device ids, no SyncBN.

    mmengine's launcher pins a CUDA device and DDP is given device ids, both
    of which fail on a CPU-only machine; here the process group is started
    with gloo before the runner is built (the runner then reuses it).
    """
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} needs CUDA; on a CPU machine use '
                           'tools/dist_train.sh (torchrun, --launcher pytorch)')
    env_cfg = dict(cfg.get('env_cfg') or {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg
    timeout = int(dist_cfg.get('timeout', 1800))
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(
            backend='gloo', timeout=datetime.timedelta(seconds=timeout))
    wrapper_cfg = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
    replaced = _replace_syncbn(cfg.get('model'))
    if cfg.get('sync_bn') or replaced:
        print_log('SyncBatchNorm needs CUDA: training with per-process BatchNorm on CPU',
                  logger='current', level=30)
        cfg.sync_bn = None


def _replace_syncbn(node) -> bool:
    """Turn every ``norm_cfg`` of type SyncBN in a config tree into BN; True if any."""
    found = False
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            found = True
        for value in node.values():
            found = _replace_syncbn(value) or found
    elif isinstance(node, (list, tuple)):
        for value in node:
            found = _replace_syncbn(value) or found
    return found


def set_pretrained(cfg: Config, checkpoint: str) -> dict:
    """Initialise ``model.backbone`` from a backbone checkpoint, checked first.

    The checkpoint (``backbone.*`` keys, as written by
    ``tools/model_converters/ssl2backbone.py``, or an SSL checkpoint, whose
    teacher backbone is used) is compared with the config's backbone before
    anything runs: missing weights (other than new output norms) or shape
    mismatches raise an error naming them, instead of mmengine's silent
    partial load.

    Returns:
        dict: The key comparison (``missing``, ``unexpected``, ``mismatched``).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it does not fit the backbone.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'--pretrained checkpoint not found: {checkpoint}')
    _, report, prefix = check_backbone_checkpoint(checkpoint, build_model(cfg, 'backbone'))
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint, prefix=prefix)
    return report


def add_safety_hooks(cfg: Config, action: str = 'stop', max_skips: int = 10) -> None:
    """Add :class:`NonFiniteLossHook`, :class:`RNGStateHook` and :class:`PreemptionHook`.

    Hooks the config already lists are kept as they are. Epoch-based
    training loops become :class:`ResumableEpochBasedTrainLoop`, so that the
    preemption hook's mid-epoch checkpoints resume exactly.

    Args:
        cfg (Config): The config to change.
        action (str): What the non-finite guard does: 'stop' or 'skip'.
        max_skips (int): Skips allowed with 'skip'.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    present = {h.get('type') for h in hooks}
    if 'NonFiniteLossHook' not in present:
        hooks.append(dict(type='NonFiniteLossHook', action=action, max_skips=max_skips))
    if 'RNGStateHook' not in present:
        hooks.append(dict(type='RNGStateHook'))
    if 'PreemptionHook' not in present:
        hooks.append(dict(type='PreemptionHook'))
    cfg.custom_hooks = hooks
    use_resumable_epoch_loop(cfg)


def use_resumable_epoch_loop(cfg: Config) -> None:
    """Train epoch-based configs with :class:`ResumableEpochBasedTrainLoop`.

    It is mmengine's ``EpochBasedTrainLoop`` plus an exact resume from a
    checkpoint saved inside an epoch. Iteration-based loops are left as they
    are: mmengine's ``IterBasedTrainLoop`` resumes at any iteration itself
    (by reading the trained batches again).
    """
    train_cfg = cfg.get('train_cfg')
    if not train_cfg:
        return
    loop_type = train_cfg.get('type')
    if loop_type is None and train_cfg.get('by_epoch', False):
        train_cfg.pop('by_epoch')
        train_cfg['type'] = 'ResumableEpochBasedTrainLoop'
    elif loop_type in ('EpochBasedTrainLoop', 'mmengine.EpochBasedTrainLoop'):
        train_cfg['type'] = 'ResumableEpochBasedTrainLoop'


def set_visualizer(cfg: Config, vis: str = 'tensorboard') -> None:
    """Log to TensorBoard, W&B or only the local JSON files (``tools/train.py --vis``).

    The config's visualizer (mmpretrain's, mmdet's or mmseg's) keeps its type
    and its ``LocalVisBackend``; the backend of ``vis`` is added (a backend
    of that type already in the config is kept with its settings) and the
    other one removed. mmengine writes the TensorBoard event files beside the
    JSON log, in ``<work_dir>/<timestamp>/vis_data/``.

    Args:
        cfg (Config): The config to change.
        vis (str): 'tensorboard', 'wandb' or 'none'.

    Raises:
        ValueError: If ``vis`` is not one of :data:`VIS_BACKENDS`.
        ImportError: If the backend's package is not installed.
    """
    if vis not in VIS_BACKENDS:
        raise ValueError(f'--vis must be one of {sorted(VIS_BACKENDS)}, got {vis!r}')
    backend, package = VIS_BACKENDS[vis]
    if package and importlib.util.find_spec(package) is None:
        raise ImportError(f'--vis {vis} needs the {package} package: pip install {package} '
                          '(or choose --vis none)')
    backend_type = backend['type'] if backend else None
    visualizer = dict(cfg.get('visualizer') or dict(type='Visualizer'))
    optional = {b['type'] for b, _ in VIS_BACKENDS.values() if b}

    def kind(entry: dict) -> str:
        return str(entry.get('type', '')).split('.')[-1]

    backends = [dict(b) for b in visualizer.get('vis_backends') or []
                if kind(b) not in optional or kind(b) == backend_type]
    if not any(kind(b) == 'LocalVisBackend' for b in backends):
        backends.insert(0, dict(type='LocalVisBackend'))
    if backend and not any(kind(b) == backend_type for b in backends):
        backends.append(copy.deepcopy(backend))
    visualizer['vis_backends'] = backends
    cfg.visualizer = visualizer


def build_runner(cfg: Config) -> Runner:
    """Build the runner the config asks for (``runner_type``, else :class:`RunLengthRunner`)."""
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return RunLengthRunner.from_cfg(cfg)
