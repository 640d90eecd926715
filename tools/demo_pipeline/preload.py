"""Imported once by the demo's fork server (:mod:`demo_pipeline.processes`).

Everything the tools import before they compute: torch, mmengine, the plugin
(which imports mmpretrain, hence mmdet), and every module the three libraries
register (``register_all_modules`` imports them; the default scope is left
alone, each tool sets its own). Nothing here computes or touches a device.
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmdet.utils import register_all_modules as register_mmdet  # noqa: E402
from mmpretrain.utils import register_all_modules as register_mmpretrain  # noqa: E402
from mmseg.utils import register_all_modules as register_mmseg  # noqa: E402

import lkssl_mm  # noqa: E402,F401
import lkssl_mm.engine.launch  # noqa: E402,F401
import lkssl_mm.utils.preflight  # noqa: E402,F401

for register in (register_mmpretrain, register_mmdet, register_mmseg):
    register(init_default_scope=False)
