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
        frozen_stages=3,  # mmpretrain's Swin freezes stages 0..frozen_stages (all four)
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[dict(type='GlobalAveragePooling'),
          dict(type='ClsBatchNormNeck', input_features=768)],
    head=dict(in_channels=768))
