# DINO pre-training of Swin-T (the hierarchical Transformer baseline) on ImageNet-1k, 100 epochs,
# 8 GPUs x 64 images, with the same recipe as the CNNs (see configs/dino/README.md) and EsViT's
# Swin initialisation.
_base_ = [
    '../_base_/models/swin-t.py',
    '../_base_/models/dino.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    '../_base_/schedules/dino_adamw_100e.py',
    '../_base_/dino_runtime.py',
]
model = dict(
    backbone=_base_.ssl_backbone,
    neck=dict(in_channels=_base_.backbone_channels[-1]))
