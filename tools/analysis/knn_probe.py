#!/usr/bin/env python
"""k-NN accuracy of frozen features for the class and for nuisance variables.

On the generated ImageNet-style data, predicts from the features the class, the colour
of the largest object and the number of objects, each with a k-NN classifier (k=20,
cosine, T=0.07) and next to its chance level. A backbone that learnt a shortcut
decodes the nuisance variables better than the class. Prints one JSON document.

Example:
    python tools/analysis/knn_probe.py configs/demo/knn_lkconvnext-demo_synthetic.py \
        work_dirs/demo/backbones/dino_k3.pth --data-root data/synthetic_small \
        --cfg-options model.backbone.kernel_size=3
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402

import lkssl_mm  # noqa: E402,F401
from lkssl_mm.analysis.knn_probe import knn_probe  # noqa: E402
from lkssl_mm.datasets.synthetic import CLS_ATTRIBUTES  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description='k-NN probe of class and nuisance variables')
    parser.add_argument('config', help='k-NN config (test_cfg KNNTestLoop)')
    parser.add_argument('checkpoint', help="backbone/SSL checkpoint, or 'none' for random init")
    parser.add_argument('--data-root', default='data/synthetic_small',
                        help='folder given to tools/data/make_synthetic.py')
    parser.add_argument('--attributes', nargs='+', default=list(CLS_ATTRIBUTES),
                        choices=list(CLS_ATTRIBUTES))
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--work-dir', default='work_dirs/knn_probe')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    images = osp.join(args.data_root, 'imagenet')
    cfg.test_dataloader.dataset.data_root = images
    cfg.test_cfg.memory_dataloader.dataset.data_root = images
    cfg.work_dir = args.work_dir
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    result = dict(command=' '.join([osp.basename(sys.executable)] + sys.argv),
                  checkpoint=args.checkpoint, k=args.k,
                  probe=knn_probe(cfg, checkpoint, args.data_root, args.attributes, args.k))
    print(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
