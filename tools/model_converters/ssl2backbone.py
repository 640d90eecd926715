#!/usr/bin/env python
"""Extract the backbone of an SSL checkpoint for downstream configs.

The output holds ``backbone.*`` keys; mmpretrain, mmdet and mmseg configs load
it with ``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``
(or ``load_from`` for classifiers). With ``--config`` the backbone is checked
against that config's backbone and refused if any key is missing or has
another shape. Prints a JSON report of converted / missing / unexpected keys.

Example:
    python tools/model_converters/ssl2backbone.py work_dirs/dino/epoch_100.pth \
        work_dirs/dino/backbone_teacher.pth --which teacher \
        --config configs/mask_rcnn/mask-rcnn_lkconvnext-t-k13-ln_fpn_1x_coco.py
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config

import lkssl_mm  # noqa: F401
from lkssl_mm.utils.builder import build_model
from lkssl_mm.utils.ssl_checkpoint import NotAnSSLCheckpoint, convert_ssl_checkpoint


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='SSL checkpoint -> backbone checkpoint')
    parser.add_argument('src', help='SSL checkpoint (DINO, MoCo v3, BYOL)')
    parser.add_argument('dst', help='output backbone checkpoint')
    parser.add_argument('--which', choices=['teacher', 'student'], default='teacher',
                        help='the EMA teacher (default, as DINO evaluates) or the student')
    parser.add_argument('--config', help='check the backbone against this config')
    args = parser.parse_args(argv)
    target = build_model(Config.fromfile(args.config), 'backbone') if args.config else None
    try:
        report = convert_ssl_checkpoint(args.src, args.dst, args.which, target)
    except (NotAnSSLCheckpoint, ValueError, OSError) as error:
        sys.exit(f'ssl2backbone: error: {error}')
    print(json.dumps(report, indent=2))
    return report


if __name__ == '__main__':
    main()
