# Mask R-CNN, 1x schedule (12 epochs, single scale), COCO, with the DINO-pretrained
# ViT-S/16 (mmpretrain's, as pre-trained): the Transformer counterpart of the LKConvNeXt configs, same recipe.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
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
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[
        dict(type='mmseg.MultiLevelNeck', in_channels=[384] * 4, out_channels=384,
             scales=[4, 2, 1, 0.5]),
        dict(type='FPN', in_channels=[384] * 4, out_channels=256, num_outs=5),
    ])
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.95),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05))
custom_imports = dict(imports=['lkssl_mm'], allow_failed_imports=False)
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipelines.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
val_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.test_pipeline[1:]))
test_dataloader = val_dataloader
