"""Change a config's run length and make every schedule follow it.

mmengine reads ``param_scheduler`` (``begin``/``end``/``T_max``/milestones),
warm-ups and epoch-valued settings from the config as numbers, so setting
``train_cfg.max_epochs`` alone leaves every schedule at the config's own length:
a shortened cosine never anneals, a lengthened one sits at ``eta_min``.
:func:`fit_run_length` rescales all of them by ``new / old`` (time dilation),
and :class:`RunLengthRunner` applies it when a runner is built, so the
libraries' own ``tools/train.py`` get it through one config key::

    python tools/train.py CONFIG --epochs 10              # this project's tool
    python $MMDET/tools/train.py CONFIG --cfg-options run_length.epochs=4

mmengine has no such mechanism (a scheduler's ``end`` defaults to the loop
length only when it is left out), hence this module.

Rounding. A schedule keeps its step unit: iteration-stepped values become
whole iterations; epoch-stepped ``begin``/``end``/``T_max`` that do not land on
whole epochs switch the scheduler to ``convert_to_iter_based`` (exact, as
mmengine converts warm-ups); milestones, step sizes, periods and DINO's
per-epoch settings stay whole epochs (at least one where they were at least
one), and a milestone never moves to or past the end, so every drop of the
original run still happens. A scheduler keeps at least two steps (checked again
in iterations when the runner knows the epoch length). DINO's teacher momentum
needs nothing: it follows ``max_iters``.
"""
import copy
import math
import re
from fractions import Fraction
from typing import List, Optional, Tuple

from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

INF = float('inf')
#: The fewest steps a rescaled scheduler keeps (mmengine's LinearLR over one step
#: would stay at its start factor for the rest of the run).
MIN_STEPS = 2

#: Settings outside ``param_scheduler`` counted in epochs (config paths). DINO's
#: teacher-temperature warm-up and prototype-layer freezing are per-epoch schedules in
#: the reference (``main_dino.py``), so they stay whole epochs.
EPOCH_SETTINGS = ('model.head.warmup_teacher_temp_epochs',
                  'optim_wrapper.freeze_last_layer_epochs')
#: ``custom_hooks`` arguments that are points in time, e.g. mmengine's EMAHook's.
HOOK_TIME_KEYS = ('begin_iter', 'begin_epoch')
#: Scheduler arguments that are discrete events or sizes (kept in whole units).
_DISCRETE = ('milestones', 'step_size', 'periods', 'total_steps')
#: Names that look like lengths; reported when left unscaled.
_LENGTH_NAME = re.compile(r'(^|_)(epochs?|iters?)$|^(epochs?|iters?)_')


def _as_number(value: Fraction):
    """A Fraction as an int when whole, else a float."""
    return int(value) if value.denominator == 1 else float(value)


def _whole(value: Fraction, at_least: int = 0) -> int:
    """Round half up to a whole number, not below ``at_least``."""
    return max(math.floor(value + Fraction(1, 2)), at_least)


def _scale_scheduler(scheduler: dict, ratio: Fraction,
                     loop_unit: str, new_length: int) -> List[str]:
    """Rescale one scheduler config in place; returns 'key old->new' notes."""
    notes = []
    by_epoch = scheduler.get('by_epoch', True)
    converted = by_epoch and scheduler.get('convert_to_iter_based', False)
    unit = 'epoch' if by_epoch else 'iter'

    points = {k: Fraction(scheduler[k]) * ratio for k in ('begin', 'end', 'T_max')
              if k in scheduler and scheduler[k] is not None and scheduler[k] != INF}
    if by_epoch and not converted and any(p.denominator != 1 for p in points.values()):
        scheduler['convert_to_iter_based'] = True
        converted = True
        notes.append('convert_to_iter_based')
    old_end = scheduler.get('end')
    old_span = (INF if old_end is None else old_end) - scheduler.get('begin', 0)
    for key, point in points.items():
        if converted:
            new = _as_number(point)
        else:
            new = _whole(point, at_least=1 if key == 'T_max' else 0)
        if key == 'end' and not converted:
            # at least two steps: mmengine's LinearLR needs two to come back to the base
            # value (converted schedulers are checked in iterations when built)
            new = max(new, scheduler.get('begin', 0) + min(old_span, MIN_STEPS))
        if new != scheduler[key]:
            notes.append(f'{key} {scheduler[key]}->{new}')
        scheduler[key] = new

    # discrete events: whole units; every one stays strictly before the end
    end = scheduler.get('end', INF)
    if end is None:
        end = INF
    if loop_unit == unit:
        end = min(end, new_length)
    last = math.ceil(end) - 1 if end != INF else None
    for key in _DISCRETE:
        if key not in scheduler or scheduler[key] is None:
            continue
        old = scheduler[key]
        if key == 'milestones':
            new = [_whole(Fraction(m) * ratio) for m in old]
            if last is not None:
                new = [min(m, last) for m in new]
        elif key == 'periods':
            new = [_whole(Fraction(p) * ratio, at_least=1) for p in old]
        else:
            new = _whole(Fraction(old) * ratio, at_least=1)
        if new != (list(old) if isinstance(old, (list, tuple)) else old):
            notes.append(f'{key} {old}->{new}')
        scheduler[key] = new

    if 'Exponential' in str(scheduler.get('type', '')) and 'gamma' in scheduler:
        # the same total decay over the rescaled number of steps
        old = scheduler['gamma']
        scheduler['gamma'] = float(old) ** float(1 / ratio)
        notes.append(f'gamma {old}->{scheduler["gamma"]:.6g}')
    return notes


def _schedulers(param_scheduler) -> List[Tuple[str, dict]]:
    """(name, config) of every scheduler: a dict, a list, or a dict per optimizer."""
    if param_scheduler is None:
        return []
    if isinstance(param_scheduler, dict) and 'type' not in param_scheduler:
        return [(f'{name}.{inner}'.rstrip('.'), cfg) for name, group in param_scheduler.items()
                for inner, cfg in _schedulers(group)]
    if isinstance(param_scheduler, dict):
        return [('', param_scheduler)]
    return [(str(i), s) for i, s in enumerate(param_scheduler) if isinstance(s, dict)]


def _get_path(cfg: Config, path: str):
    """(parent dict, value) of a dotted config path; (None, None) when absent."""
    first, *rest = path.split('.')
    parent, node = cfg, cfg.get(first)
    for key in rest:
        if not isinstance(node, dict) or key not in node:
            return None, None
        parent, node = node, node[key]
    return parent, node


def _unscaled_lengths(node, prefix: str, handled: set) -> List[str]:
    """Keys under ``node`` that look like epoch / iteration counts but were not scaled."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f'{prefix}.{key}'
            if (isinstance(key, str) and _LENGTH_NAME.search(key) and path not in handled
                    and isinstance(value, (int, float)) and not isinstance(value, bool)):
                found.append(path)
            found.extend(_unscaled_lengths(value, path, handled))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            found.extend(_unscaled_lengths(value, f'{prefix}.{index}', handled))
    return found


def fit_run_length(cfg: Config, epochs: Optional[int] = None,
                   iters: Optional[int] = None) -> Optional[str]:
    """Set the training length and rescale every schedule to it, in place.

    The new length comes from the arguments or, when both are None, from the
    config key ``run_length = dict(epochs=N)`` (or ``iters=N``), which is
    removed once applied (so a dumped config is not rescaled twice). Every
    ``param_scheduler`` (``begin``, ``end``, ``T_max``, milestones, step
    sizes, periods, exponential ``gamma``), the settings in
    :data:`EPOCH_SETTINGS` and the hook arguments in :data:`HOOK_TIME_KEYS`
    are multiplied by ``new / old`` (rounding: see the module docstring).

    Args:
        cfg (Config): A training config; changed in place.
        epochs (int, optional): New ``train_cfg.max_epochs`` (epoch-based loops).
        iters (int, optional): New ``train_cfg.max_iters`` (iteration-based loops).

    Returns:
        str | None: One line saying what changed (None: no new length asked for).

    Raises:
        ValueError: If the length is not a positive integer, is given in the
            wrong unit for the loop, or ``run_length`` is malformed.
    """
    if epochs is None and iters is None:
        request = cfg.pop('run_length', None)
        if request is None:
            return None
        request = dict(request)
        if set(request) not in ({'epochs'}, {'iters'}):
            raise ValueError("run_length must be dict(epochs=N) or dict(iters=N), got "
                             f'{request!r}')
        epochs, iters = request.get('epochs'), request.get('iters')
    elif epochs is not None and iters is not None:
        raise ValueError('give the run length in epochs or in iterations, not both')
    else:
        cfg.pop('run_length', None)
    unit, new = ('epoch', epochs) if epochs is not None else ('iter', iters)
    if isinstance(new, bool) or not isinstance(new, int) or new < 1:
        raise ValueError(f'run length must be a positive integer number of {unit}s, '
                         f'got {new!r}')
    train_cfg = cfg.get('train_cfg') or {}
    loop_key = f'max_{unit}s'
    if loop_key not in train_cfg:
        other = 'max_iters' if unit == 'epoch' else 'max_epochs'
        if other in train_cfg:
            raise ValueError(
                f'the config trains for train_cfg.{other}={train_cfg[other]}; give the run '
                f'length in {other[4:]} (--{other[4:]} / run_length.{other[4:]}), '
                f'not in {unit}s')
        raise ValueError(f'train_cfg has no max_epochs or max_iters to change: {train_cfg!r}')
    old = train_cfg[loop_key]
    ratio = Fraction(new, old)
    train_cfg[loop_key] = new
    notes = []
    for name, scheduler in _schedulers(cfg.get('param_scheduler')):
        changes = _scale_scheduler(scheduler, ratio, unit, new)
        if changes:
            label = f'param_scheduler.{name}' if name else 'param_scheduler'
            notes.append(f'{label}({scheduler.get("type")}) ' + ' '.join(changes))

    handled = set()
    for path in EPOCH_SETTINGS:
        parent, value = _get_path(cfg, path)
        if value is None or isinstance(value, bool):
            continue
        key = path.rsplit('.', 1)[-1]
        scaled = _whole(Fraction(value) * ratio, at_least=1 if value >= 1 else 0)
        parent[key] = scaled
        handled.add(path)
        notes.append(f'{path} {value}->{scaled}')
    for index, hook in enumerate(cfg.get('custom_hooks') or []):
        for key in HOOK_TIME_KEYS:
            if hook.get(key) is not None:
                old_value = hook[key]
                hook[key] = _whole(Fraction(old_value) * ratio)
                handled.add(f'custom_hooks.{index}.{key}')
                notes.append(f'custom_hooks.{index}({hook.get("type")}).{key} '
                             f'{old_value}->{hook[key]}')
    unscaled = []
    for root in ('model', 'optim_wrapper', 'custom_hooks'):
        unscaled += _unscaled_lengths(cfg.get(root), root, handled)
    summary = (f'run length: train_cfg.{loop_key} {old} -> {new} (x{float(ratio):.4g}); '
               + ('; '.join(notes) if notes else 'no schedule to rescale'))
    if unscaled:
        summary += '; left as they are: ' + ', '.join(unscaled)
    return summary


def widen_short_schedulers(param_scheduler, epoch_length: int) -> List[str]:
    """Give every ``convert_to_iter_based`` scheduler at least two iterations, in place.

    mmengine converts ``begin``/``end`` to ``int(epochs * epoch_length)``; a
    rescaled warm-up of 0.1 epoch over 6 iterations per epoch would get no
    iteration (mmengine refuses ``end == begin``) or one (a LinearLR then stays
    at its start factor). Such a scheduler is written in iterations instead,
    lasting :data:`MIN_STEPS`; the next scheduler keeps its start, so the two
    overlap for a step.

    Args:
        param_scheduler (dict | list): The schedulers' configs.
        epoch_length (int): Iterations per epoch.

    Returns:
        list[str]: One note per widened scheduler.
    """
    notes = []
    for name, scheduler in _schedulers(param_scheduler):
        if not (scheduler.get('by_epoch', True) and scheduler.get('convert_to_iter_based')):
            continue
        begin = int(scheduler.get('begin', 0) * epoch_length)
        end = scheduler.get('end', INF)
        if end is None or end == INF or int(end * epoch_length) - begin >= MIN_STEPS:
            continue
        scheduler.pop('convert_to_iter_based')
        scheduler.update(by_epoch=False, begin=begin, end=begin + MIN_STEPS)
        if scheduler.get('T_max') is not None:
            scheduler['T_max'] = max(MIN_STEPS, round(scheduler['T_max'] * epoch_length))
        for key in _DISCRETE:
            value = scheduler.get(key)
            if isinstance(value, (list, tuple)):
                scheduler[key] = [round(v * epoch_length) for v in value]
            elif value is not None:
                scheduler[key] = round(value * epoch_length)
        notes.append(f'param_scheduler.{name}({scheduler.get("type")}) runs over '
                     f'{MIN_STEPS} iterations: its span was shorter at {epoch_length} '
                     'iterations per epoch')
    return notes


@RUNNERS.register_module()
class RunLengthRunner(Runner):
    """mmengine's :class:`Runner` that first applies the config's ``run_length``.

    The project's configs set ``runner_type = 'RunLengthRunner'``, so the
    libraries' own ``tools/train.py`` (which build ``runner_type`` through
    the registry) shorten or lengthen a run with one option,
    ``--cfg-options run_length.epochs=N``. The rescaling sees the config after
    every ``--cfg-options``; the one-line summary goes to the run's log. When
    the schedulers are built (the epoch length is known), a converted
    scheduler shorter than two iterations is widened to two
    (:func:`widen_short_schedulers`). Otherwise it is mmengine's Runner.
    """

    @classmethod
    def from_cfg(cls, cfg: Config) -> Runner:
        cfg = copy.deepcopy(cfg)
        summary = fit_run_length(cfg)
        runner = super().from_cfg(cfg)
        if summary:
            runner.logger.info(summary)
        return runner

    def build_param_scheduler(self, scheduler):
        # Configs only: on resume mmengine passes the built schedulers back in,
        # and a copy of those would step a copy of the optimizer.
        if _schedulers(scheduler):
            scheduler = copy.deepcopy(scheduler)
            for note in widen_short_schedulers(scheduler, len(self.train_dataloader)):
                self.logger.warning(note)
        return super().build_param_scheduler(scheduler)
