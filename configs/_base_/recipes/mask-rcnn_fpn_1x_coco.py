# Mask R-CNN + FPN on COCO, 1x schedule (12 epochs, single scale, batch 16 = 8 GPUs x 2).
# mmdet has no 1x Mask R-CNN recipe for ConvNeXt, so each value names its source:
# - model, data (2 images per GPU) and runtime: mmdet's mask-rcnn_r50_fpn.py,
#   coco_instance.py and default_runtime.py, as every mmdet Mask R-CNN config;
# - 12 epochs, lr x0.1 after epochs 8 and 11: mmdet's schedule_1x.py;
# - linear warm-up over 1000 iterations from lr x0.001: mmdet's AdamW backbone recipes
#   (swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py:34-36, convnext/mask-rcnn_convnext-t-p4-w7_
#   fpn_amp-ms-crop-3x_coco.py:69-71) instead of schedule_1x.py's 500, set for SGD;
# - AMP AdamW lr 1e-4, betas (0.9, 0.999), wd 0.05, layer-wise lr decay 0.95: mmdet's
#   ConvNeXt-T 3x config (:82-96; the same AdamW in its Swin-T 1x config, :56-60);
# - drop path: set by each config (0.2 for the -T backbones, mmdet's Swin-T 1x value, :21).
# The configs in configs/mask_rcnn/ add a backbone base config and set model.backbone.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../plugin.py',
]
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.95, decay_type='layer_wise'),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipelines.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
val_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.test_pipeline[1:]))
test_dataloader = val_dataloader
