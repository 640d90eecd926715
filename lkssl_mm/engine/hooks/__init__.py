"""Training hooks."""
from .collapse_monitor import CollapseMonitorHook
from .rng_state import RNGStateHook

__all__ = ['CollapseMonitorHook', 'RNGStateHook']
