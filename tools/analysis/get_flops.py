#!/usr/bin/env python
"""Parameters and FLOPs of a config's model (mmengine's complexity analysis).

Counts the whole model for classifiers (``mode='tensor'``) and the backbone
otherwise (SSL algorithms, detectors, segmentors), plus the whole model's
parameter count. FLOPs follow fvcore/mmengine: one multiply-add is one FLOP.

Example:
    python tools/analysis/get_flops.py configs/dino/dino_lkconvnext-t-k7-ln_8xb64-100e_in1k.py
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction

import lkssl_mm  # noqa: F401
from lkssl_mm.analysis.complexity import config_complexity


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='Params and FLOPs of a config')
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                        help='input height and width (one value: square)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides, as for train.py')
    args = parser.parse_args(argv)
    shape = args.shape * 2 if len(args.shape) == 1 else args.shape
    result = config_complexity(args.config, tuple(shape), args.cfg_options)
    print(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
