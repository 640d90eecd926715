#!/usr/bin/env python
"""Parameters and FLOPs of a config's model (mmengine's complexity analysis).

Counts the whole model for classifiers (``mode='tensor'``) and the backbone
otherwise (SSL algorithms, detectors, segmentors), plus the whole model's
parameter count. FLOPs follow fvcore/mmengine: one multiply-add is one FLOP.
Given a backbone base config (``configs/_base_/models/*.py``), counts that backbone
with a linear classification head as papers publish sizes, optionally in the
re-parameterised inference form (``--deploy``) or at a sparsity (``--sparsity``).

Examples:
    python tools/analysis/get_flops.py configs/dino/dino_lkconvnext-t-k7-ln_8xb64-100e_in1k.py
    python tools/analysis/get_flops.py configs/_base_/models/slak-t.py --sparsity 0.4
    python tools/analysis/get_flops.py configs/_base_/models/replknet-31b.py --deploy
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction

import lkssl_mm  # noqa: F401
from lkssl_mm.analysis.complexity import backbone_complexity, config_complexity


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='Params and FLOPs of a config')
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                        help='input height and width (one value: square)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='key=value overrides, as for train.py')
    backbone = parser.add_argument_group('backbone base configs (configs/_base_/models/)')
    backbone.add_argument('--num-classes', type=int, default=1000,
                          help='classes of the linear head counted with the backbone')
    backbone.add_argument('--sparsity', type=float, default=0.0,
                          help='count as if this fraction of every conv / linear weight '
                          'were zero (SLaK publishes sizes at 0.4)')
    backbone.add_argument('--deploy', action='store_true',
                          help='count the re-parameterised inference form, BatchNorm folded')
    args = parser.parse_args(argv)
    shape = args.shape * 2 if len(args.shape) == 1 else args.shape
    if 'model' not in Config.fromfile(args.config):  # a backbone base config
        result = backbone_complexity(args.config, args.num_classes, tuple(shape),
                                     args.sparsity, args.deploy, args.cfg_options)
    elif args.sparsity or args.deploy:
        parser.error('--sparsity and --deploy apply to backbone base configs '
                     '(configs/_base_/models/*.py), not to full configs')
    else:
        result = config_complexity(args.config, tuple(shape), args.cfg_options)
    print(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
