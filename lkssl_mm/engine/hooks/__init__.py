"""Training hooks."""
from .collapse_monitor import CollapseMonitorHook
from .nonfinite import NonFiniteLossHook
from .rng_state import RNGStateHook

__all__ = ['CollapseMonitorHook', 'NonFiniteLossHook', 'RNGStateHook']
