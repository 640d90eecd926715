"""The end-to-end demo on generated data (``make demo`` / ``tools/demo.py``).

It lives in ``tools/`` because it runs the repository's tools and configs
(``tools/train.py``, ``tools/test.py``, ``configs/demo/``), which an installed
``lkssl_mm`` package does not ship: run it from a checkout. The tables
(:mod:`.table`) say what runs; :func:`.plan.build_plan` makes the steps;
:class:`.runner.Demo` runs them; :mod:`.report` writes the report.
"""
import os

from .processes import TOOL_ENV

# Before torch is imported: the demo's own small steps (random inits, sizes, the ERF) run in
# this process, and its idle OpenMP threads should sleep too (.processes says why; the ERF of
# the demo Swin took 18 s instead of 3 s on 2 shared cores with the default policy).
for _name, _value in TOOL_ENV.items():
    os.environ.setdefault(_name, _value)

from .plan import Step, build_plan, random_init_name  # noqa: E402
from .report import write_report  # noqa: E402
from .runner import Demo  # noqa: E402
from .table import (  # noqa: E402
    BACKBONES,
    COMPARISONS,
    SIZES,
    TASKS,
    Backbone,
    Task,
    by_name,
    cnn_backbone,
)

__all__ = ['BACKBONES', 'COMPARISONS', 'SIZES', 'TASKS', 'Backbone', 'Demo', 'Step', 'Task',
           'build_plan', 'by_name', 'cnn_backbone', 'random_init_name',
           'write_report']
