# DINO pre-training of SLaK-T (per-stage decomposed kernels 51/49/47/13, width 1.3, dense; see
# configs/_base_/models/slak-t.py) on ImageNet-1k, 100 epochs, 8 GPUs x 64 images,
# with the reference recipe (see configs/dino/README.md).
_base_ = [
    '../_base_/models/slak-t.py',
    '../_base_/models/dino.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    '../_base_/schedules/dino_adamw_100e.py',
    '../_base_/dino_runtime.py',
]
model = dict(
    backbone=_base_.backbone,
    neck=dict(in_channels=_base_.backbone_channels[-1]))
