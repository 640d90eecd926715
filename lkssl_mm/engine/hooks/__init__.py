"""Training hooks."""
from .collapse_monitor import CollapseMonitorHook
from .nonfinite import NonFiniteLossHook
from .preemption import PREEMPTED_EXIT_CODE, PreemptionHook
from .rng_state import RNGStateHook

__all__ = ['CollapseMonitorHook', 'NonFiniteLossHook', 'PreemptionHook', 'PREEMPTED_EXIT_CODE',
           'RNGStateHook']
