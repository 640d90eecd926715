"""An epoch-based training loop that resumes inside an epoch."""
import itertools
from contextlib import contextmanager

import torch
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader


class _WithoutFirstBatches:
    """A batch sampler that leaves out the first ``count`` batches of another.

    It reports the full length, so that the loop and the hooks (the logger's
    ``[epoch][i/N]``, end-of-epoch checks) see the epoch's real size while
    the batch indices continue from ``count``.
    """

    def __init__(self, batch_sampler, count: int):
        self.batch_sampler = batch_sampler
        self.sampler = getattr(batch_sampler, 'sampler', None)
        self.count = count

    def __iter__(self):
        return itertools.islice(iter(self.batch_sampler), self.count, None)

    def __len__(self) -> int:
        return len(self.batch_sampler)


@contextmanager
def _skipping_first_batches(dataloader: DataLoader, count: int):
    """Make the next iteration of ``dataloader`` start at batch ``count``.

    Only the batch indices are skipped: no sample of a skipped batch is
    loaded. A DataLoader refuses new attribute values for ``batch_sampler``
    once built (to catch mistakes mid-iteration), so the view is set with
    ``object.__setattr__`` before the epoch's iterator is made and the
    original is put back after the epoch (persistent workers then read the
    original again at their next reset).
    """
    original = dataloader.batch_sampler
    object.__setattr__(dataloader, 'batch_sampler', _WithoutFirstBatches(original, count))
    try:
        yield
    finally:
        object.__setattr__(dataloader, 'batch_sampler', original)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's ``EpochBasedTrainLoop`` that resumes a checkpoint saved mid-epoch.

    mmengine's loop always starts an epoch at its first batch, so a run
    resumed from a checkpoint written inside an epoch (by
    :class:`~lkssl_mm.engine.hooks.PreemptionHook`) would train the epoch's
    first batches twice and end the epoch later than the schedule says. This
    loop skips the batches the checkpoint had already trained, at the
    batch-sampler level (nothing is loaded), and numbers the rest as the
    uninterrupted run does. Every other case is mmengine's loop unchanged.

    With ``num_workers=0`` and ``RNGStateHook`` the resumed run draws the same
    augmentations as the uninterrupted one; with worker processes the order
    of the samples is the same but their random augmentations differ (the
    workers start again from their seeds).
    """

    def run_epoch(self) -> None:
        done = self._iter - self._epoch * len(self.dataloader)
        if done == 0:
            return super().run_epoch()
        if not 0 < done <= len(self.dataloader):
            raise RuntimeError(
                f'the checkpoint is at iteration {self._iter}, epoch {self._epoch + 1}, which '
                f'does not fit epochs of {len(self.dataloader)} iterations: did the batch '
                'size, the number of processes or the dataset change since it was saved?')
        self.runner.logger.info(f'Resuming inside epoch {self._epoch + 1}: skipping its first '
                                f'{done} of {len(self.dataloader)} batches (already trained).')
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        with _skipping_first_batches(self.dataloader, done):
            # Making the iterator draws the workers' base seed from torch's generator; the
            # uninterrupted run drew it at the start of the epoch, before the checkpoint.
            rng_state = torch.get_rng_state()
            batches = iter(self.dataloader)
            torch.set_rng_state(rng_state)
            for idx, data_batch in enumerate(batches, start=done):
                self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
