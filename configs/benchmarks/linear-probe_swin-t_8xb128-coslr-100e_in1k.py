# Linear probe of the DINO-pretrained (mmpretrain) Swin-T on ImageNet-1k (frozen
# backbone, BN, linear; 100 epochs); recipe in
# configs/_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py',
    '../_base_/models/swin-t.py',
]
pretrained = 'work_dirs/pretrained/dino_swin-t_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        # mmpretrain's Swin counts from 0: 3 freezes the patch embedding, all four stages and
        # their output norms (4 indexed a fifth stage and failed as training started)
        frozen_stages=3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[dict(type='GlobalAveragePooling'),
          dict(type='ClsBatchNormNeck', input_features=768)],
    head=dict(in_channels=768))
