# End-to-end fine-tuning on ImageNet-1k for 100 epochs: mmpretrain's ConvNeXt-T recipe
# (AdamW 4e-3 x batch/4096, wd 0.05, RandAugment, Mixup/CutMix, label smoothing, EMA)
# shortened to 100 epochs with layer-wise lr decay 0.8, as usual for SSL fine-tuning.
# The child config sets model.backbone (with its init_cfg) and head.in_channels.
_base_ = [
    'mmpretrain::convnext/convnext-tiny_32xb128_in1k.py',
    '../plugin.py',
]
model = dict(init_cfg=None)
optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.8))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=5, end=100,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=5)
auto_scale_lr = dict(base_batch_size=4096, enable=True)
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipelines.
train_dataloader = dict(
    batch_size=128,
    num_workers=10,
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
val_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.test_pipeline[1:]))
test_dataloader = val_dataloader
