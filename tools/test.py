#!/usr/bin/env python
"""Evaluate a checkpoint with any lkssl_mm config.

Uses the config's test_dataloader and test_evaluator (accuracy, COCO mAP, mIoU...).

Example:
    python tools/test.py CONFIG work_dirs/xxx/epoch_12.pth
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import lkssl_mm  # noqa: E402,F401  (registers the plugin's modules)
from lkssl_mm.engine.launch import add_common_args, build_runner, load_config  # noqa: E402
from lkssl_mm.utils.preflight import preflight  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a checkpoint (any task)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='also dump the raw predictions to this pickle file')
    parser.add_argument('--no-preflight', action='store_true',
                        help='skip the checks of data paths, model shapes and the checkpoint')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if not args.no_preflight:
        preflight(cfg)
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        cfg.test_evaluator = evaluators + [dict(type='DumpResults', out_file_path=args.out)]
    runner = build_runner(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
