# Linear probe of the DINO-pretrained SLaK-T (dense; configs/_base_/models/slak-t.py)
# on ImageNet-1k (frozen backbone, BN, linear; 100 epochs); recipe in
# configs/_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py',
    '../_base_/models/slak-t.py',
]
pretrained = 'work_dirs/pretrained/dino_slak-t_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='ClsBatchNormNeck', input_features=_base_.backbone_channels[-1]),
    head=dict(in_channels=_base_.backbone_channels[-1]))
