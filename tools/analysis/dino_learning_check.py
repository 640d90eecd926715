#!/usr/bin/env python
"""Does DINO learn? k-NN of the teacher after a short CPU pre-training vs random init.

Pre-trains the demo LKConvNeXt with DINO on the generated data (the demo
config and budget), converts the teacher backbone, and evaluates k-NN (k=20,
cosine, T=0.07) for it and for the same backbone at random initialisation.
Prints one JSON document; docs/dino.md records a run.

Example:
    python tools/analysis/dino_learning_check.py --kernel 13 --epochs 8
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from lkssl_mm.demo.pipeline import SIZES, DemoPipeline  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='DINO learning check (k-NN vs random init)')
    parser.add_argument('--kernel', type=int, default=13)
    parser.add_argument('--epochs', type=int, default=None,
                        help='pre-training epochs (default: the size preset)')
    parser.add_argument('--size', default='small', choices=sorted(SIZES))
    parser.add_argument('--work-dir', default='work_dirs/dino_learning_check')
    parser.add_argument('--data-root', default=None)
    args = parser.parse_args(argv)
    pipeline = DemoPipeline(args.size, args.work_dir,
                            args.data_root or osp.join('data', f'synthetic_{args.size}'))
    if args.epochs:
        pipeline.size.pretrain_epochs = args.epochs
    start = time.time()
    pipeline.make_data()
    trained = pipeline.pretrain(args.kernel)
    dino = pipeline.convert(args.kernel, trained['checkpoint'])['checkpoint']
    random_init = pipeline.random_backbone(args.kernel)['checkpoint']
    result = dict(
        command=' '.join([osp.basename(sys.executable)] + sys.argv),
        kernel=args.kernel, epochs=pipeline.size.pretrain_epochs, size=args.size,
        knn_dino=pipeline.knn('dino', args.kernel, dino),
        knn_random=pipeline.knn('random', args.kernel, random_init),
        seconds=round(time.time() - start, 1))
    result['gain_top1_k20'] = round(result['knn_dino']['knn/top1_k20'] -
                                    result['knn_random']['knn/top1_k20'], 2)
    print(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
