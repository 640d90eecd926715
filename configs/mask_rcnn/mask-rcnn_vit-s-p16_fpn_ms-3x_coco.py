# Mask R-CNN, 3x schedule with mmdet's multi-scale + crop augmentation, COCO, with the DINO-pretrained
# ViT-S/16 (mmpretrain's, as pre-trained): the Transformer counterpart of the LKConvNeXt configs, same recipe.
_base_ = [
    'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py',
    '../_base_/models/vit-s-p16.py',
]
pretrained = 'work_dirs/pretrained/dino_vit-s-p16_teacher.pth'
# ViT-S gives four 1/16 maps; mmseg's MultiLevelNeck rescales them to
# 1/4..1/32 (ViTDet-style simple pyramid), then the usual FPN.
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_type='featmap',
        out_indices=(2, 5, 8, 11),
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[
        dict(type='mmseg.MultiLevelNeck', in_channels=[384] * 4, out_channels=384,
             scales=[4, 2, 1, 0.5]),
        dict(type='FPN', in_channels=[384] * 4, out_channels=256, num_outs=5),
    ])
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
