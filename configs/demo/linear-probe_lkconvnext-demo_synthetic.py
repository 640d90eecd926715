# CPU demo/test: linear probe of the demo LKConvNeXt on the generated data, the
# reference protocol scaled down: frozen backbone (stages and output norm),
# BatchNorm without affine parameters, then a linear layer; SGD + cosine.
_base_ = [
    '../_base_/models/lkconvnext-demo.py',
    '../_base_/datasets/synthetic_cls.py',
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/plugin.py',
]
pretrained = None  # a backbone checkpoint from tools/model_converters/ssl2backbone.py
model = dict(
    type='ImageClassifier',
    backbone=dict(
        _base_.backbone,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        if pretrained else None),
    neck=dict(type='ClsBatchNormNeck', input_features=_base_.backbone_channels[-1]),
    head=dict(type='LinearClsHead', num_classes=_base_.num_classes,
              in_channels=_base_.backbone_channels[-1],
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1, )))
max_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True,
                        begin=0, end=max_epochs, eta_min=0.0, convert_to_iter_based=True)]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
