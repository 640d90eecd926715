# DINO pre-training of ViT-S/16 on ImageNet-1k, 300 epochs, 16 GPUs x 64 images: the
# published 300-epoch run of facebookresearch/dino ("Boosting DINO performance",
# README.md:185-202; published k-NN 73.3 %, linear 76.0 %), the Transformer side of the
# paper's 100-epoch CNN vs 300-epoch Transformer comparison. Its arguments:
# main_dino.py defaults (as the 100-epoch configs) plus --epochs 300 --teacher_temp 0.07
# --warmup_teacher_temp_epochs 30 --norm_last_layer false, run by run_with_submitit.py on
# its default 2 nodes x 8 GPUs (run_with_submitit.py:29-30) at 64 images per GPU
# (main_dino.py:90): lr 5e-4 x 1024 / 256 through auto_scale_lr.
_base_ = [
    '../_base_/models/vit-s-p16.py',
    '../_base_/models/dino.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    '../_base_/schedules/dino_adamw_300e.py',
    '../_base_/dino_runtime.py',
]
model = dict(
    backbone=_base_.ssl_backbone,
    neck=dict(in_channels=_base_.backbone_channels[-1], norm_last_layer=False),
    head=dict(teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=30))
