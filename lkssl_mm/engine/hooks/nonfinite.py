"""Stop (or skip the step) when the loss is NaN or infinite."""
import torch
from mmengine.dist import all_reduce, get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Guard every optimizer update against a non-finite loss.

    mmengine has no hook point between the loss and the backward pass, so
    this hook wraps the optimizer wrapper's ``update_params`` when training
    starts. Before each update the loss is checked on every rank (one scalar
    all-reduce, so all ranks take the same decision and none is left waiting):

    * ``action='stop'``: raise ``FloatingPointError`` naming the iteration and
      epoch. The step is not applied and no checkpoint is written after it,
      so the last checkpoint on disk is the last good state.
    * ``action='skip'``: drop the gradients of that step, count it
      (``nonfinite_skips`` in the message hub, and the logs), and stop as
      above once more than ``max_skips`` steps were skipped.

    Args:
        action (str): 'stop' or 'skip'. Defaults to 'stop'.
        max_skips (int): Skipped steps allowed with ``action='skip'``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, action: str = 'stop', max_skips: int = 10):
        if action not in ('stop', 'skip'):
            raise ValueError(f"NonFiniteLossHook action must be 'stop' or 'skip', got {action!r}")
        self.action = action
        self.max_skips = max_skips

    def before_train(self, runner) -> None:
        wrapper = runner.optim_wrapper
        if getattr(wrapper, '_nonfinite_guarded', False):
            return
        update_params = wrapper.update_params

        def guarded_update_params(loss, *args, **kwargs):
            if self._finite_everywhere(loss):
                return update_params(loss, *args, **kwargs)
            self._handle(runner, loss)
            wrapper.zero_grad()

        wrapper.update_params = guarded_update_params
        wrapper._nonfinite_guarded = True

    @staticmethod
    def _finite_everywhere(loss: torch.Tensor) -> bool:
        flag = torch.isfinite(loss.detach()).all().float().reshape(1)
        all_reduce(flag, op='min')
        return bool(flag.item())

    def _handle(self, runner, loss: torch.Tensor) -> None:
        where = f'iteration {runner.iter + 1} (epoch {runner.epoch + 1})'
        skips = runner.message_hub.get_info('nonfinite_skips', 0)
        if self.action == 'skip' and skips < self.max_skips:
            runner.message_hub.update_info('nonfinite_skips', skips + 1)
            runner.logger.warning(
                f'Non-finite loss ({loss.detach().float().cpu().tolist()} on rank '
                f'{get_rank()} or another rank) at {where}: step skipped '
                f'({skips + 1}/{self.max_skips} allowed).')
            return
        last = runner.message_hub.get_info('last_ckpt', None)
        reason = f'after {skips} skipped steps, ' if self.action == 'skip' else ''
        raise FloatingPointError(
            f'Non-finite loss at {where}, {reason}training stopped before this step was '
            f'applied. Last checkpoint: {last or "none saved yet"}. Lower the learning rate or '
            'enable gradient clipping, then resume with --resume.')
