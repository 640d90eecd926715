# mmpretrain's MoCo v3 (unchanged algorithm, 100-epoch recipe) with LKConvNeXt-T
# 13x13: the SSL result is not tied to DINO. ConvNeXt-style nets train with
# AdamW as in mmpretrain's MoCo v3 ViT recipe (lr 2.4e-3 at batch 4096, wd 0.1),
# no weight decay on norms, biases and layer scales.
_base_ = [
    'mmpretrain::mocov3/mocov3_resnet50_8xb512-amp-coslr-100e_in1k.py',
    '../_base_/models/lkconvnext-t-k13-ln.py',
    '../_base_/plugin.py',
]
model = dict(
    backbone=dict(_base_.backbone, _delete_=True),
    neck=dict(in_channels=_base_.backbone_channels[-1], with_avg_pool=False))
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=2.4e-3, weight_decay=0.1),
    paramwise_cfg=dict(flat_decay_mult=0.0))
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipeline.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
