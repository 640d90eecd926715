# Mask R-CNN, 1x schedule (12 epochs, single scale), COCO, with the DINO-pretrained
# mmpretrain's Swin-T (the implementation the SSL checkpoint comes from): the Transformer counterpart of the LKConvNeXt configs, same recipe.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/models/swin-t.py',
]
pretrained = 'work_dirs/pretrained/dino_swin-t_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=_base_.backbone_channels))
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
