# Linear probe of the DINO-pretrained RepLKNet-31B (mmpretrain's) on ImageNet-1k (frozen
# backbone, average pooling, BN, linear; 100 epochs); recipe in
# configs/_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../_base_/recipes/linear-probe_8xb128-coslr-100e_in1k.py',
    '../_base_/models/replknet-31b.py',
]
pretrained = 'work_dirs/pretrained/dino_replknet-31b_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[dict(type='GlobalAveragePooling'),
          dict(type='ClsBatchNormNeck', input_features=1024)],
    head=dict(in_channels=1024))
# mmpretrain's RepLKNet freezes its stem and stages but not the transitions between
# them: no update for those either (lr 0; norm_eval keeps their BN statistics).
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'backbone.transitions': dict(lr_mult=0.0,
                                                                 decay_mult=0.0)}))
