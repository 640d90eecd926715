# DINO pre-training of ViT-S/16 (the Transformer baseline, same recipe) on ImageNet-1k, 100 epochs,
# 8 GPUs x 64 images: the README's "vanilla" run of facebookresearch/dino (README.md:162-166,
# main_dino.py defaults; published k-NN 69.3 %, linear 74.0 %), with DINO's ViT initialisation.
_base_ = [
    '../_base_/models/vit-s-p16.py',
    '../_base_/models/dino.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    '../_base_/schedules/dino_adamw_100e.py',
    '../_base_/dino_runtime.py',
]
model = dict(
    backbone=_base_.ssl_backbone,
    neck=dict(in_channels=_base_.backbone_channels[-1]))
