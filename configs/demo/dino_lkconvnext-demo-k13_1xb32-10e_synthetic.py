# CPU demo: DINO pre-training of the demo LKConvNeXt (13x13 kernels) on the
# generated data, 10 epochs, the reference recipe scaled down (small head,
# 1 warm-up epoch). tools/demo.py runs it; tests run it for a few iterations.
_base_ = [
    '../_base_/models/lkconvnext-demo.py',
    '../_base_/models/dino_head.py',
    '../_base_/datasets/synthetic_dino_multicrop.py',
    '../_base_/schedules/dino_adamw_100e.py',
    '../_base_/dino_runtime.py',
]
kernel_size = 13
model = dict(
    backbone=dict(_base_.backbone, kernel_size=kernel_size),
    neck=dict(
        in_channels=_base_.backbone_channels[-1],
        hidden_channels=512,
        bottleneck_channels=128,
        out_channels=1024),
    head=dict(out_channels=1024, warmup_teacher_temp_epochs=3))
max_epochs = 10
warmup_epochs = 1
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
custom_hooks = [dict(type='CollapseMonitorHook', interval=10), dict(type='RNGStateHook')]
randomness = dict(seed=0, deterministic=False)
