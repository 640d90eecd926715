#!/usr/bin/env python
"""Does DINO learn? k-NN of the teacher after a short CPU pre-training vs random init.

Pre-trains the demo LKConvNeXt with DINO on the generated data (the demo
config and budget), converts the teacher backbone, and evaluates k-NN (k=20,
cosine, T=0.07) for it and for the same backbone at random initialisation with
several seeds (the random baseline varies by a few points from seed to seed).
Prints one JSON document; docs/dino.md records runs. Give each pre-training
seed its own ``--work-dir``: a finished pre-training there is reused.

Example:
    python tools/analysis/dino_learning_check.py --kernel 3 --epochs 12
"""
import argparse
import dataclasses
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from lkssl_mm.demo.pipeline import SIZES, DemoPipeline  # noqa: E402

METRIC = 'knn/top1_k20'


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='DINO learning check (k-NN vs random init)')
    parser.add_argument('--kernel', type=int, default=13)
    parser.add_argument('--epochs', type=int, default=None,
                        help='pre-training epochs (default: the size preset)')
    parser.add_argument('--seed', type=int, default=0, help='pre-training seed')
    parser.add_argument('--random-seeds', type=int, default=5,
                        help='random initialisations (seeds 0..N-1) to compare with')
    parser.add_argument('--size', default='small', choices=sorted(SIZES))
    parser.add_argument('--work-dir', default='work_dirs/dino_learning_check')
    parser.add_argument('--data-root', default=None)
    args = parser.parse_args(argv)
    if args.random_seeds < 1:
        parser.error('--random-seeds must be >= 1')
    pipeline = DemoPipeline(args.size, args.work_dir,
                            args.data_root or osp.join('data', f'synthetic_{args.size}'))
    size = pipeline.size
    extra = dict(size.extra, pretrain=[*size.extra.get('pretrain', []),
                                       f'randomness.seed={args.seed}'])
    pipeline.size = dataclasses.replace(size, extra=extra,
                                        pretrain_epochs=args.epochs or size.pretrain_epochs)
    start = time.time()
    pipeline.make_data()
    trained = pipeline.pretrain(args.kernel)
    dino = pipeline.convert(args.kernel, trained['checkpoint'])['checkpoint']
    knn_random = []
    for seed in range(args.random_seeds):
        random_init = pipeline.random_backbone(args.kernel, seed)['checkpoint']
        knn_random.append(dict(seed=seed, **pipeline.knn(f'random_s{seed}', args.kernel,
                                                          random_init)))
    random_top1 = [r[METRIC] for r in knn_random]
    random_mean = statistics.mean(random_top1)
    result = dict(
        command=' '.join([osp.basename(sys.executable)] + sys.argv),
        kernel=args.kernel, epochs=pipeline.size.pretrain_epochs, seed=args.seed,
        size=args.size, knn_dino=pipeline.knn('dino', args.kernel, dino),
        knn_random=knn_random,
        random_top1_k20=dict(mean=round(random_mean, 2),
                             min=round(min(random_top1), 2), max=round(max(random_top1), 2)),
        seconds=round(time.time() - start, 1))
    dino_top1 = result['knn_dino'][METRIC]
    result['gain_top1_k20_over_random_mean'] = round(dino_top1 - random_mean, 2)
    result['gain_top1_k20_over_random_max'] = round(dino_top1 - max(random_top1), 2)
    print(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
