"""The end-to-end demo on generated data (``make demo`` / ``tools/demo.py``).

It lives in ``tools/`` because it runs the repository's tools and configs
(``tools/train.py``, ``tools/test.py``, ``configs/demo/``), which an installed
``lkssl_mm`` package does not ship: run it from a checkout. The tables
(:mod:`.table`) say what runs; :func:`.plan.build_plan` makes the steps;
:class:`.runner.Demo` runs them; :mod:`.report` writes the report.
"""
from .plan import Step, build_plan, random_init_name
from .report import write_report
from .runner import Demo
from .table import BACKBONES, COMPARISONS, SIZES, TASKS, Backbone, Task, by_name, cnn_backbone

__all__ = ['BACKBONES', 'COMPARISONS', 'SIZES', 'TASKS', 'Backbone', 'Demo', 'Step', 'Task',
           'build_plan', 'by_name', 'cnn_backbone', 'random_init_name',
           'write_report']
