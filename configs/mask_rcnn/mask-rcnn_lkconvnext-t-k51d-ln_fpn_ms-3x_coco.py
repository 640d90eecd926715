# Mask R-CNN + FPN, 3x schedule (36 epochs) with mmdet's multi-scale + crop
# augmentation, COCO, with the DINO-pretrained LKConvNeXt-T, 51x51 decomposed
# (SLaK-style), LayerNorm backbone. Inherits mmdet's ConvNeXt-T 3x recipe (AMP
# AdamW 1e-4, wd 0.05) and swaps in the backbone and the layer-wise lr decay
# constructor (0.95).
_base_ = [
    'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py',
    '../_base_/models/lkconvnext-t-k51d-ln.py',
]
pretrained = 'work_dirs/pretrained/dino_lkconvnext-t-k51d-ln_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.4,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=_base_.backbone_channels))
optim_wrapper = dict(
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, decay_rate=0.95))
custom_imports = dict(imports=['lkssl_mm', 'mmpretrain.models'], allow_failed_imports=False)
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipelines.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
val_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.test_pipeline[1:]))
test_dataloader = val_dataloader
