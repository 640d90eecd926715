# DINO pre-training of Swin-T (window 7) on ImageNet-1k, 300 epochs, 16 GPUs x 32 images:
# EsViT's published view-level Swin-T run (microsoft/esvit README.md:142, 167-176, checkpoint
# "bl_lr0.0005_gpu16_bs32_multicrop_epoch300_dino_aug_window7"; linear 77.0 %, k-NN 74.2 %),
# the hierarchical Transformer of the paper's 300-epoch comparison. Its arguments
# (README.md:344, main_esvit.py defaults otherwise, which equal main_dino.py's): --epochs 300
# --batch_size_per_gpu 32 on 16 GPUs --teacher_temp 0.07 --warmup_teacher_temp_epochs 30
# --warmup_epochs 10 --norm_last_layer false; Swin-T drop path 0.1
# (experiments/imagenet/swin/swin_tiny_patch4_window7_224.yaml). EsViT's region-level loss
# (--use_dense_prediction, its V+R rows) is not part of DINO and not used here.
_base_ = [
    '../_base_/models/swin-t.py',
    '../_base_/models/dino.py',
    '../_base_/datasets/imagenet_dino_multicrop.py',
    '../_base_/schedules/dino_adamw_300e.py',
    '../_base_/dino_runtime.py',
]
model = dict(
    backbone=_base_.ssl_backbone,
    neck=dict(in_channels=_base_.backbone_channels[-1], norm_last_layer=False),
    head=dict(teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=30))
train_dataloader = dict(batch_size=32)
