"""The end-to-end demo on generated data (``make demo`` / ``tools/demo.py``)."""
from .pipeline import SIZES, DemoPipeline
from .report import write_report

__all__ = ['DemoPipeline', 'SIZES', 'write_report']
