# CPU demo/test: UperNet with the demo LKConvNeXt on the generated ADE20K-format
# data (64 px crops), mmseg's IoUMetric (mIoU). Heads narrowed for the CPU;
# same recipe as the full configs (AdamW, layer-wise lr decay, poly schedule).
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/default_runtime.py',
    '../_base_/datasets/synthetic_ade20k.py',
    '../_base_/models/lkconvnext-demo.py',
]
custom_imports = dict(imports=['lkssl_mm'], allow_failed_imports=False)
pretrained = None  # a backbone checkpoint from tools/model_converters/ssl2backbone.py
num_classes = 5
data_preprocessor = dict(size=_base_.crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        if pretrained else None),
    decode_head=dict(in_channels=_base_.backbone_channels, channels=64,
                     num_classes=num_classes),
    auxiliary_head=dict(in_channels=_base_.backbone_channels[2], channels=32,
                        num_classes=num_classes),
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
