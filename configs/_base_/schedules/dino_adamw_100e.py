# The DINO reference optimisation recipe, 100 epochs (facebookresearch/dino):
# AdamW, lr 5e-4 x total_batch / 256 (auto_scale_lr), 10 warm-up epochs then
# cosine to 1e-6, weight decay cosine 0.04 -> 0.4 on weights (not on biases,
# norms or layer scales), per-parameter gradient clipping at 3.0, prototype
# layer frozen during the first epoch.
max_epochs = 100
warmup_epochs = 10
optim_wrapper = dict(
    type='DINOOptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.04),
    clip_grad=dict(type='param_norm', max_norm=3.0),
    freeze_last_layer_epochs=1,
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256, enable=True)
