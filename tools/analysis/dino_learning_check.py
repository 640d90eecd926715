#!/usr/bin/env python
"""Does DINO learn? k-NN of the teacher after a short CPU pre-training vs random init.

Pre-trains one demo backbone with DINO on the generated data (the demo's
recipe and budget), converts the teacher backbone, and evaluates k-NN (k=20,
cosine, T=0.07) for it and for the same backbone at random initialisation with
several seeds (the random baseline varies by a few points from seed to seed).
It runs a plan of the demo's own steps (``tools/demo_pipeline``: data,
pre-training, conversion, random inits, k-NN) and prints one JSON document;
docs/dino.md records runs. Give each pre-training seed its own ``--work-dir``:
finished steps there are reused.

Example:
    python tools/analysis/dino_learning_check.py --kernel 3 --epochs 12
    python tools/analysis/dino_learning_check.py --backbone vit --epochs 4
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/

from demo_pipeline import (  # noqa: E402
    BACKBONES,
    SIZES,
    TASKS,
    Demo,
    by_name,
    cnn_backbone,
    random_init_name,
)

METRIC = 'knn/top1_k20'
STEPS = ('data', 'pretrain', 'convert', 'random', 'knn')


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='DINO learning check (k-NN vs random init)')
    which = parser.add_mutually_exclusive_group()
    which.add_argument('--kernel', type=int, default=None,
                       help='the demo LKConvNeXt with this depthwise kernel (default 13)')
    which.add_argument('--backbone', choices=[b.name for b in BACKBONES],
                       help='a backbone of the demo instead')
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
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be >= 1')
    backbone = by_name(BACKBONES, args.backbone, 'backbone') if args.backbone else \
        cnn_backbone(args.kernel or 13)
    demo = Demo(args.size, args.work_dir,
                args.data_root or osp.join('data', f'synthetic_{args.size}'))
    plan = demo.plan(backbones=[backbone], tasks=[by_name(TASKS, n, 'task') for n in STEPS],
                     random_inits=args.random_seeds,
                     lengths=dict(pretrain=args.epochs) if args.epochs else None,
                     extra_options=dict(pretrain=[f'randomness.seed={args.seed}']))
    start = time.time()
    inits = demo.run(plan)['backbones'][backbone.name]['inits']
    knn_random = [dict(seed=seed, **inits[random_init_name(seed)]['knn'])
                  for seed in range(args.random_seeds)]
    random_top1 = [r[METRIC] for r in knn_random]
    random_mean = statistics.mean(random_top1)
    epochs = next(step.length for step in plan if step.task.name == 'pretrain')
    result = dict(
        command=' '.join([osp.basename(sys.executable)] + sys.argv),
        backbone=backbone.name, kernel=backbone.kernel, epochs=epochs, seed=args.seed,
        size=args.size, knn_dino=inits['dino']['knn'], knn_random=knn_random,
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
