"""Training hooks."""
from .collapse_monitor import CollapseMonitorHook

__all__ = ['CollapseMonitorHook']
