# mmpretrain's BYOL (unchanged algorithm and LARS recipe) with LKConvNeXt-T
# 13x13; LayerNorm, bias and layer-scale parameters are excluded from LARS and
# weight decay, as BN and biases are for ResNet.
_base_ = [
    'mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py',
    '../_base_/models/lkconvnext-t-k13-ln.py',
    '../_base_/plugin.py',
]
model = dict(
    backbone=dict(_base_.backbone, _delete_=True),
    neck=dict(in_channels=_base_.backbone_channels[-1], with_avg_pool=False))
optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        custom_keys={
            'norm': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'gamma': dict(decay_mult=0, lars_exclude=True),
        }))
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipeline.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
