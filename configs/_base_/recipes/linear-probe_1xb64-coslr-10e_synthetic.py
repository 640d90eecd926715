# Linear probe on the generated ImageNet-style data (CPU demo and tests): the reference
# protocol scaled down (../recipes/linear-probe_8xb128-coslr-100e_in1k.py): frozen
# backbone, BatchNorm without affine parameters (ClsBatchNormNeck, set by the child
# config), then a linear layer; SGD lr 0.1, momentum 0.9, no weight decay, cosine.
# The configs in configs/demo/linear-probe_* add a backbone base config, freeze it and
# set the neck's and head's widths.
_base_ = [
    '../datasets/synthetic_cls.py',
    'mmpretrain::_base_/default_runtime.py',
    '../plugin.py',
]
model = dict(
    type='ImageClassifier',
    head=dict(type='LinearClsHead', num_classes=_base_.num_classes,
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
