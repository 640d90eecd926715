# CPU demo: DINO pre-training of the demo LKConvNeXt (13x13 kernels; the demo sets
# model.backbone.kernel_size) on the generated data, with a k-NN monitor every
# epoch. The reference recipe, scaled to a few hundred iterations on 2 CPU cores:
# 2 x 64 px + 4 x 32 px crops; a 256-prototype head with teacher temperature 0.02
# (the 0.04 -> 0.07 of the reference stayed near uniform, or collapsed to it, for
# the whole short run); lr 1e-3 for batch 32 without linear scaling (the scaled 6e-5
# barely moves in 500 steps); the reference's teacher momentum 0.996 -> 1, inherited
# (a faster 0.99 teacher peaked at epochs 3-5 and lost 7 k-NN points by epoch 12
# at 13x13); 1 warm-up epoch. See docs/dino.md.
_base_ = [
    '../_base_/models/lkconvnext-demo.py',
    '../_base_/models/dino.py',
    '../_base_/datasets/synthetic_dino_multicrop.py',
    '../_base_/datasets/synthetic_knn_monitor.py',
    '../_base_/schedules/dino_adamw_100e.py',
    '../_base_/dino_runtime.py',
]
model = dict(
    backbone=_base_.backbone,
    neck=dict(
        in_channels=_base_.backbone_channels[-1],
        hidden_channels=512,
        bottleneck_channels=128,
        out_channels=256),
    head=dict(out_channels=256, teacher_temp=0.02, warmup_teacher_temp=0.02,
              warmup_teacher_temp_epochs=0))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(enable=False)
max_epochs = 10
warmup_epochs = 1
# the demo and tests change the length with --cfg-options train_cfg.max_epochs=E
# param_scheduler.1.T_max=E-1 param_scheduler.1.end=E param_scheduler.2.T_max=E
# param_scheduler.2.end=E (lkssl_mm.demo.pipeline.schedule_options does this)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
custom_hooks = [dict(type='CollapseMonitorHook', interval=10), dict(type='RNGStateHook')]
randomness = dict(seed=0, deterministic=False)
