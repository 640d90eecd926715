# Linear probe of the DINO-pretrained (mmpretrain) ViT-S/16 on ImageNet-1k (frozen
# backbone, BN, linear; 100 epochs); recipe in
# configs/_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py',
    '../_base_/models/vit-s-p16.py',
]
pretrained = 'work_dirs/pretrained/dino_vit-s-p16_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        frozen_stages=12,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='ClsBatchNormNeck', input_features=384),
    head=dict(in_channels=384))
