#!/usr/bin/env python
"""The whole pipeline on generated data, with a report: ``make demo``.

Generates the datasets; DINO-pretrains, with one recipe and one budget, a
small-kernel and a large-kernel demo LKConvNeXt, a ViT and a Swin Transformer
of comparable size; evaluates each (k-NN, linear probe, Mask R-CNN, UperNet,
ERF) from its DINO teacher and from its own random initialisation; and writes
``<work-dir>/report.md``, ``report.json`` and plots. Re-running skips the
finished steps and resumes an interrupted training from its last checkpoint.
The steps come from the tables in ``tools/demo_pipeline/table.py``.

Sizes: tiny (a few minutes, for tests), small (the CPU default, about 15
minutes on 2 cores), full (a GPU machine; uses it automatically).

Example:
    python tools/demo.py --size small
    DEMO_SIZE=tiny make demo
    make demo DEMO_SEEDS=3   # three fine-tuning seeds per downstream run
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from demo_pipeline import SIZES, Demo, write_report  # noqa: E402
from demo_pipeline.runner import OtherSettings  # noqa: E402


def seed_count(text: str) -> int:
    """``--finetune-seeds`` / ``$DEMO_SEEDS``: a whole number of at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f'expected a whole number of seeds, at least 1 (--finetune-seeds or $DEMO_SEEDS), '
            f'got {text!r}')
    return int(text)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='End-to-end demo on generated data')
    parser.add_argument('--size', default=os.environ.get('DEMO_SIZE', 'small'),
                        choices=sorted(SIZES), help='budget (default: $DEMO_SIZE or small)')
    parser.add_argument('--work-dir', default=None,
                        help='output folder (default: work_dirs/demo/<size>)')
    parser.add_argument('--data-root', default=None,
                        help='generated data folder (default: data/synthetic_<size>)')
    parser.add_argument('--finetune-seeds', type=seed_count,
                        default=os.environ.get('DEMO_SEEDS') or None,
                        help='seeds per linear-probe / Mask R-CNN / UperNet run; the report '
                        'gives their mean and range (default: $DEMO_SEEDS or 1)')
    parser.add_argument('--fresh-processes', action='store_true',
                        help='start a new interpreter for every tool run instead of forking '
                        'one that imported the libraries once (about 5 s more per step)')
    args = parser.parse_args(argv)
    work_dir = args.work_dir or osp.join('work_dirs', 'demo', args.size)
    data_root = args.data_root or osp.join('data', f'synthetic_{args.size}')
    try:
        demo = Demo(args.size, work_dir, data_root, seeds=args.finetune_seeds,
                    fresh_processes=args.fresh_processes)
        results = demo.run()
    except OtherSettings as error:  # the work dir holds other results: nothing was run
        sys.exit(f'demo: error: {error}')
    return write_report(results, demo.work_dir)


if __name__ == '__main__':
    main()
