#!/usr/bin/env python
"""Effective receptive field of a config's backbone (RepLKNet's method).

Writes a heatmap PNG and prints the high-contribution area ratios at 20, 30,
50 and 99 % as JSON. Works at random init (no checkpoint) or with an SSL
checkpoint (teacher or student backbone) or a converted backbone checkpoint.

Example:
    python tools/analysis/erf.py configs/dino/dino_lkconvnext-t-k13-ln_8xb64-100e_in1k.py \
        --checkpoint work_dirs/dino/epoch_100.pth --images data/imagenet/val --size 1024
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction

import lkssl_mm  # noqa: F401
from lkssl_mm.analysis.erf_runner import erf_of_config


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='Effective receptive field of a backbone')
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='SSL, backbone or full checkpoint (optional)')
    parser.add_argument('--which', choices=['teacher', 'student'], default='teacher',
                        help='backbone to read from an SSL checkpoint')
    parser.add_argument('--images', help='folder of images (searched recursively); '
                        'random noise images when omitted')
    parser.add_argument('--num-images', type=int, default=20)
    parser.add_argument('--size', type=int, default=224, help='input side in pixels')
    parser.add_argument('--out-index', type=int, default=-1,
                        help='backbone output (stage) to measure')
    parser.add_argument('--out-dir', default='work_dirs/erf')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    os.makedirs(args.out_dir, exist_ok=True)
    name = osp.splitext(osp.basename(args.config))[0]
    result = erf_of_config(cfg, checkpoint=args.checkpoint, which=args.which,
                           image_dir=args.images, num_images=args.num_images, size=args.size,
                           out_index=args.out_index, seed=args.seed,
                           heatmap=osp.join(args.out_dir, f'{name}_erf.png'))
    result['config'] = args.config
    print(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
