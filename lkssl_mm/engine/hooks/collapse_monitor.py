"""Warn when self-distillation collapses (uniform or one-hot teacher)."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

MONITORED = ('teacher_entropy', 'teacher_batch_entropy', 'kl_div')


@HOOKS.register_module()
class CollapseMonitorHook(Hook):
    """Watch the teacher-output statistics that :class:`DINOHead` returns.

    Every ``interval`` iterations the hook writes the normalised teacher
    entropy (per sample), the entropy of the batch-mean teacher distribution
    and the student-teacher KL to the visualizer backends, and logs a warning
    when ``patience`` consecutive checks look collapsed:

    * uniform collapse: per-sample teacher entropy above ``uniform_threshold``
      (every image gets the same flat distribution);
    * one-hot collapse: batch-mean entropy below ``onehot_threshold`` (every
      image lands on the same prototype).

    Args:
        interval (int): Check every N iterations. Defaults to 50.
        uniform_threshold (float): Defaults to 0.98.
        onehot_threshold (float): Defaults to 0.02.
        patience (int): Consecutive collapsed checks before warning. Defaults to 2.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 50, uniform_threshold: float = 0.98,
                 onehot_threshold: float = 0.02, patience: int = 2):
        self.interval = interval
        self.uniform_threshold = uniform_threshold
        self.onehot_threshold = onehot_threshold
        self.patience = patience
        self._strikes = 0

    def _read(self, runner, key: str) -> Optional[float]:
        buffer = runner.message_hub.log_scalars.get(f'train/{key}')
        return None if buffer is None else float(buffer.current())

    def diagnose(self, entropy: float, batch_entropy: float) -> Optional[str]:
        """Name the collapse these statistics show, or None."""
        if entropy > self.uniform_threshold:
            return f'uniform (teacher entropy {entropy:.3f} > {self.uniform_threshold})'
        if batch_entropy < self.onehot_threshold:
            return (f'one-hot (entropy of the batch-mean teacher output {batch_entropy:.3f} '
                    f'< {self.onehot_threshold})')
        return None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        values = {key: self._read(runner, key) for key in MONITORED}
        if values['teacher_entropy'] is None or values['teacher_batch_entropy'] is None:
            return
        runner.visualizer.add_scalars({f'collapse/{k}': v for k, v in values.items()
                                       if v is not None}, step=runner.iter + 1)
        kind = self.diagnose(values['teacher_entropy'], values['teacher_batch_entropy'])
        self._strikes = self._strikes + 1 if kind else 0
        if kind and self._strikes >= self.patience:
            count = runner.message_hub.get_info('collapse_warnings', 0) + 1
            runner.message_hub.update_info('collapse_warnings', count)
            runner.logger.warning(
                f'Self-distillation looks collapsed at iteration {runner.iter + 1}: {kind}. '
                'Check the teacher temperature, centering momentum and learning rate.')
