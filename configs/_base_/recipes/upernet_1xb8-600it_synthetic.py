# UperNet on the generated ADE20K-format data (CPU demo and tests; 64 px crops): mmseg's
# UperNet with heads narrowed for the CPU; the recipe of the full configs
# (../recipes/upernet_160k_ade20k-512x512.py: AdamW, wd 0.05, layer-wise lr decay,
# warm-up then poly decay) in fp32, whole-image inference; mmseg's IoUMetric (mIoU).
# The configs in configs/demo/upernet_* add a backbone base config and set
# model.backbone and the heads' inputs.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/default_runtime.py',
    '../datasets/synthetic_ade20k.py',
    '../plugin.py',
]
num_classes = 5
data_preprocessor = dict(size=_base_.crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    decode_head=dict(channels=64, num_classes=num_classes),
    auxiliary_head=dict(channels=32, num_classes=num_classes),
    test_cfg=dict(mode='whole'))
max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.9),
    optimizer=dict(type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=30, end=max_iters),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters // 2,
                    max_keep_ckpts=2))
randomness = dict(seed=0)
