"""Checkpoint and stop (and requeue under Slurm) when a job scheduler asks a run to end.

Clusters announce the end of a job with a signal: Slurm sends the one chosen
with ``--signal`` (``USR1@120``: SIGUSR1 two minutes before the time limit)
and SIGTERM on preemption, ``scancel`` or the time limit. mmengine has no
answer to either: the run dies and loses everything since the last epoch
checkpoint. :class:`PreemptionHook` turns the signal into a checkpoint at the
next iteration boundary (never in the middle of a step), requeues the Slurm
job after the requeue signal, and exits with :data:`PREEMPTED_EXIT_CODE`.
"""
import os
import os.path as osp
import signal
import subprocess
import threading
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, barrier, is_main_process
from mmengine.fileio import put_text
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

#: Exit status of a run stopped by :class:`PreemptionHook` after saving its
#: checkpoint: 75 is ``EX_TEMPFAIL`` of sysexits.h, "temporary failure, retry later".
PREEMPTED_EXIT_CODE = 75

# What a rank saw, ordered so that an all-reduce (max) gives what the ranks agree on.
_NOTHING, _STOP, _REQUEUE = 0, 1, 2


def _signal_number(name: str) -> int:
    try:
        return int(getattr(signal.Signals, name))
    except AttributeError:
        raise ValueError(f'unknown signal {name!r} (expected e.g. SIGUSR1, SIGTERM)') from None


def requeue_slurm_job(job_id: str, timeout: float = 60) -> Optional[str]:
    """Run ``scontrol requeue JOB_ID``.

    Args:
        job_id (str): The Slurm job id (``$SLURM_JOB_ID``).
        timeout (float): Seconds to wait for scontrol.

    Returns:
        str | None: None on success, otherwise why it failed.
    """
    try:
        proc = subprocess.run(['scontrol', 'requeue', job_id], capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f'{type(error).__name__}: {error}'
    if proc.returncode != 0:
        return f'scontrol exited with {proc.returncode}: {proc.stderr.strip() or proc.stdout}'
    return None


@HOOKS.register_module()
class PreemptionHook(Hook):
    """Save a checkpoint and stop on a scheduler's signal; requeue the Slurm job.

    The signal handler only sets a flag. After the next training iteration
    (after every other hook of that iteration, the scheduler and logger
    included) the ranks agree on the flag (one all-reduce), the runner saves
    ``iter_<N>.pth`` through mmengine's checkpoint machinery (written
    atomically, see :mod:`lkssl_mm.utils.fileio`) and points
    ``last_checkpoint`` at it; then

    * after a *requeue* signal (default SIGUSR1) and under Slurm
      (``$SLURM_JOB_ID`` set), rank 0 runs ``scontrol requeue $SLURM_JOB_ID``;
    * every rank exits with :data:`PREEMPTED_EXIT_CODE` (75).

    A *stop* signal (default SIGTERM: preemption, ``scancel``, time limit)
    saves and exits without requeueing, so that ``scancel`` still cancels;
    Slurm requeues a preempted job itself when its partition says so. The
    requeued job resumes from ``last_checkpoint`` (``tools/train.py`` does so
    when ``$SLURM_RESTART_COUNT`` > 0). A second signal that arrives before
    the iteration has ended ends the process at once, the default way.

    Checkpoints saved inside an epoch resume exactly with
    :class:`~lkssl_mm.engine.loops.ResumableEpochBasedTrainLoop`, which
    ``tools/train.py`` uses for epoch-based configs.

    Args:
        requeue_signals (Sequence[str]): Signals after which the Slurm job is
            requeued. Defaults to ``('SIGUSR1',)``.
        stop_signals (Sequence[str]): Signals that only save and stop.
            Defaults to ``('SIGTERM',)``.
    """

    priority = 'LOWEST'

    def __init__(self, requeue_signals: Sequence[str] = ('SIGUSR1', ),
                 stop_signals: Sequence[str] = ('SIGTERM', )):
        self._action = {_signal_number(name): _REQUEUE for name in requeue_signals}
        self._action.update({_signal_number(name): _STOP for name in stop_signals})
        self._received: Optional[int] = None
        self._previous: Dict[int, object] = {}

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum: int, frame) -> None:
        if self._received is None:
            self._received = signum
            return
        signal.signal(signum, signal.SIG_DFL)  # asked twice: stop now
        os.kill(os.getpid(), signum)

    def before_train(self, runner) -> None:
        if threading.current_thread() is not threading.main_thread():
            runner.logger.warning('PreemptionHook: training does not run in the main thread, '
                                  'so no signal handler can be installed; signals are not '
                                  'turned into checkpoints.')
            return
        for signum in self._action:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def after_train(self, runner) -> None:
        self._restore_handlers()

    def _restore_handlers(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _agreed_action(self) -> int:
        mine = self._action.get(self._received, _NOTHING) if self._received else _NOTHING
        flag = torch.tensor([mine], dtype=torch.int64)
        all_reduce(flag, op='max')  # no-op outside distributed runs
        return int(flag.item())

    # ------------------------------------------------------------------ stopping
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        action = self._agreed_action()
        if action == _NOTHING:
            return
        for signum in self._action:  # the state is about to be safe: no more interruptions
            signal.signal(signum, signal.SIG_IGN)
        name = signal.Signals(self._received).name if self._received else 'another rank'
        iteration = runner.iter + 1
        filename = f'iter_{iteration}.pth'
        path = osp.join(runner.work_dir, filename)
        runner.logger.warning(f'{name} received: saving iteration {iteration} '
                              f'(epoch {runner.epoch + 1}) to {path}, then stopping.')
        # by_epoch=False records (epoch, iter + 1): the epoch is not finished yet
        runner.save_checkpoint(runner.work_dir, filename, by_epoch=False)
        runner.message_hub.update_info('last_ckpt', path)
        if is_main_process():
            put_text(path, osp.join(runner.work_dir, 'last_checkpoint'))
            if action == _REQUEUE:
                self._requeue(runner)
        barrier()  # no rank leaves before the checkpoint is on disk
        runner.visualizer.close()  # flush TensorBoard / W&B
        runner.logger.warning(f'Stopped after iteration {iteration}; resume with --resume '
                              f'(exit code {PREEMPTED_EXIT_CODE}).')
        self._restore_handlers()
        raise SystemExit(PREEMPTED_EXIT_CODE)

    @staticmethod
    def _requeue(runner) -> None:
        job_id = os.environ.get('SLURM_JOB_ID')
        if not job_id:
            runner.logger.info('Not a Slurm job ($SLURM_JOB_ID unset): nothing to requeue.')
            return
        problem = requeue_slurm_job(job_id)
        if problem is None:
            runner.logger.warning(f'Requeued Slurm job {job_id}; it resumes from '
                                  'last_checkpoint when it starts again.')
        else:
            runner.logger.error(f'Could not requeue Slurm job {job_id} ({problem}); the '
                                'checkpoint is saved: resubmit with --resume.')
