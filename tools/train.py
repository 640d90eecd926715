#!/usr/bin/env python
"""Train any lkssl_mm config.

SSL pre-training and classification (mmpretrain), detection (mmdet) or
segmentation (mmseg): the config's default scope decides.

Examples:
    python tools/train.py configs/demo/dino_lkconvnext-demo_1xb32-100e_synthetic.py
    python tools/train.py CONFIG --resume            # resume from the work dir's last checkpoint
    python tools/train.py CONFIG --epochs 10          # 10 epochs; every schedule follows
    python tools/train.py CONFIG --vis wandb          # W&B instead of TensorBoard
    tools/dist_train.sh CONFIG 8 --amp                # 8 GPUs through torchrun
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import lkssl_mm  # noqa: E402,F401  (registers the plugin's modules)
from lkssl_mm.engine.launch import (  # noqa: E402
    VIS_BACKENDS,
    add_common_args,
    add_safety_hooks,
    build_runner,
    enable_amp,
    load_config,
    set_pretrained,
    set_visualizer,
    setup_resume,
)
from lkssl_mm.utils.preflight import preflight  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model (any task)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--resume', nargs='?', const='auto', default=None,
                        help='resume training: alone, from the latest checkpoint in the '
                        'work dir; with a path, from that checkpoint')
    length = parser.add_mutually_exclusive_group()
    length.add_argument('--epochs', type=int, help='train for this many epochs (epoch-based '
                        'configs); every lr/momentum/weight-decay schedule, warm-up and DINO '
                        'epoch setting is rescaled to it')
    length.add_argument('--iters', type=int, help='the same for iteration-based configs')
    parser.add_argument('--amp', action='store_true', help='mixed-precision training')
    parser.add_argument('--pretrained', help='initialise model.backbone from this backbone '
                        '(or SSL) checkpoint, after checking that it fits')
    parser.add_argument('--nonfinite', choices=['stop', 'skip'], default='stop',
                        help='on a NaN/inf loss: stop naming the iteration (default) or skip '
                        'the step')
    parser.add_argument('--max-nonfinite-skips', type=int, default=10,
                        help='with --nonfinite skip: skipped steps allowed before stopping')
    parser.add_argument('--no-preflight', action='store_true',
                        help='skip the checks of data paths, model shapes and checkpoints')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual total batch size '
                        '(auto_scale_lr.base_batch_size in the config)')
    parser.add_argument('--vis', choices=list(VIS_BACKENDS), default='tensorboard',
                        help='where the scalars go besides the JSON log: TensorBoard (default), '
                        'Weights & Biases (needs wandb) or none; docs/logs.md')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args)
    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.pretrained:
        set_pretrained(cfg, args.pretrained)
    add_safety_hooks(cfg, args.nonfinite, args.max_nonfinite_skips)
    set_visualizer(cfg, args.vis)
    resume_from = setup_resume(cfg, args.resume)
    if not args.no_preflight:
        preflight(cfg, resume=resume_from)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
