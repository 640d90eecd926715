# Mask R-CNN + FPN on COCO, 3x schedule (36 epochs) with mmdet's multi-scale + crop
# augmentation: mmdet's ConvNeXt-T 3x recipe (AMP AdamW 1e-4, wd 0.05) with the
# layer-wise lr decay constructor (0.95). The configs in configs/mask_rcnn/ add a
# backbone base config and set model.backbone.
_base_ = ['mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py']
optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.95))
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipelines.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
val_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.test_pipeline[1:]))
test_dataloader = val_dataloader
# not ../plugin.py: mmdet's base already sets custom_imports (two bases may not share a key)
custom_imports = dict(imports=['lkssl_mm', 'mmpretrain.models'], allow_failed_imports=False)
runner_type = 'RunLengthRunner'
