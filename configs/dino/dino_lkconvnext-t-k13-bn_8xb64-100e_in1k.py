# DINO pre-training of LKConvNeXt-T (kernel 13, BN) on ImageNet-1k, 100 epochs, 8 GPUs x 64 images,
# with the reference recipe (see configs/dino/README.md).
_base_ = [
    '../_base_/models/lkconvnext-t-k13-bn.py',
    '../_base_/models/dino.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    '../_base_/schedules/dino_adamw_100e.py',
    '../_base_/dino_runtime.py',
]
model = dict(
    backbone=_base_.backbone,
    neck=dict(in_channels=_base_.backbone_channels[-1]))
