#!/usr/bin/env python
"""Export an LKConvNeXt (SSL or backbone checkpoint) as a timm ConvNeXt state dict.

Re-parameterised kernels are folded and decomposed kernels merged into their
dense KxK equivalent; what timm's ConvNeXt cannot express is refused with the
setting and the reason. Prints a JSON report and the ``timm.create_model``
call the state dict is for; when timm is installed, the export is loaded with
``strict=True`` and its pooled features compared (``max_abs_diff``, beside the
largest feature ``max_abs_feature``).

Example:
    python tools/model_converters/lkconvnext2timm.py work_dirs/dino/epoch_100.pth \
        work_dirs/dino/convnext_k13_timm.pth \
        --config configs/dino/dino_lkconvnext-t-k13-ln_8xb64-100e_in1k.py
    # then, anywhere with timm:
    #   model = timm.create_model('convnext_tiny', kernel_sizes=(13, 13, 13, 13), num_classes=0)
    #   model.load_state_dict(torch.load('work_dirs/dino/convnext_k13_timm.pth'))
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config

import lkssl_mm  # noqa: F401
from lkssl_mm.models.export import TimmExportError, export_checkpoint_to_timm
from lkssl_mm.utils.ssl_checkpoint import NotAnSSLCheckpoint


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='LKConvNeXt checkpoint -> timm ConvNeXt')
    parser.add_argument('src', help='SSL checkpoint (DINO, MoCo v3, BYOL) or backbone checkpoint')
    parser.add_argument('dst', help='output: a timm ConvNeXt state dict')
    parser.add_argument('--config', required=True, help='a config with the LKConvNeXt backbone '
                        'the checkpoint was trained with')
    parser.add_argument('--which', choices=['teacher', 'student'], default='teacher',
                        help='backbone of an SSL checkpoint: the EMA teacher (default) or the '
                        'student')
    parser.add_argument('--image-size', type=int, default=224,
                        help='image side of the comparison with timm (if installed)')
    args = parser.parse_args(argv)
    try:
        backbone_cfg = Config.fromfile(args.config).model.backbone
        report = export_checkpoint_to_timm(args.src, args.dst, backbone_cfg, args.which,
                                           image_size=args.image_size)
    except (NotAnSSLCheckpoint, TimmExportError, ValueError, OSError) as error:
        sys.exit(f'lkconvnext2timm: error: {error}')
    print(json.dumps(report, indent=2))
    print(f'\nimport timm, torch\nmodel = {report["create_model"]}\n'
          f'model.load_state_dict(torch.load({args.dst!r}))')
    return report


if __name__ == '__main__':
    main()
