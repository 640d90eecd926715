# DINO for the CPU demo on the generated data: the reference recipe
# (../models/dino.py, ../schedules/dino_adamw_100e.py: AdamW, 10 % linear warm-up
# then cosine, weight decay 0.04 -> 0.4, per-parameter clipping 3.0, prototype layer
# frozen in the first epoch, teacher momentum 0.996 -> 1) at laptop scale, with a
# k-NN monitor of the teacher every epoch. Changed for a few hundred steps on 2 CPU
# cores (each measured, docs/dino.md "Learning check"):
# - 2 x 64 px global + 4 x 32 px local crops (../datasets/synthetic_dino_multicrop.py);
# - a 256-prototype head (512 hidden, 128 bottleneck) with teacher temperature 0.02:
#   the reference 0.04 -> 0.07 stayed near uniform, or collapsed to it, for the whole
#   short run;
# - lr 1e-3 for batch 32 without linear scaling (the scaled 6e-5 barely moves in 500
#   steps).
# The schedule keeps the reference's 100-epoch form; the demo runs it for fewer epochs
# with tools/train.py --epochs N, which rescales every schedule (warm-up, cosine,
# weight decay) to N. The configs in configs/demo/dino_* add a backbone base config.
_base_ = [
    '../models/dino.py',
    '../datasets/synthetic_dino_multicrop.py',
    '../datasets/synthetic_knn_monitor.py',
    '../schedules/dino_adamw_100e.py',
    '../dino_runtime.py',
]
model = dict(
    neck=dict(hidden_channels=512, bottleneck_channels=128, out_channels=256),
    head=dict(out_channels=256, teacher_temp=0.02, warmup_teacher_temp=0.02,
              warmup_teacher_temp_epochs=0))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(enable=False)
train_cfg = dict(val_interval=1)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
custom_hooks = [dict(type='CollapseMonitorHook', interval=10), dict(type='RNGStateHook')]
randomness = dict(seed=0, deterministic=False)
