"""Save and restore random number generator states with checkpoints."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Put the Python, NumPy and torch (CPU and CUDA) RNG states in checkpoints.

    mmengine re-seeds on resume but does not restore the generators' positions,
    so random augmentations drawn in the main process (``num_workers=0``) and
    stochastic layers (drop path) would follow another sequence after a
    resume. With this hook a resumed run draws the same numbers as an
    uninterrupted one. (Dataloader workers are seeded by mmengine per worker;
    with ``persistent_workers=False`` they restart from the same seeds each
    epoch, so they agree as well.)
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = dict(
            python=random.getstate(), numpy=np.random.get_state(),
            torch=torch.get_rng_state(),
            cuda=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # applied in before_train: the runner may re-seed after loading
        self._pending = checkpoint.get('rng_state') if runner._resume else None

    def before_train(self, runner) -> None:
        state, self._pending = self._pending, None
        if state is None:
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if state.get('cuda') is not None and torch.cuda.is_available() \
                and len(state['cuda']) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state['cuda'])
