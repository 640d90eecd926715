# Linear probe of the DINO-pretrained LKConvNeXt-T, 7x7 (= ConvNeXt-T) on ImageNet-1k
# (frozen backbone, BN, linear; 100 epochs); recipe in
# configs/_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py',
    '../_base_/models/lkconvnext-t-k7-ln.py',
]
pretrained = 'work_dirs/pretrained/dino_lkconvnext-t-k7-ln_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='ClsBatchNormNeck', input_features=768),
    head=dict(in_channels=768))
