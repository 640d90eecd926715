# Mask R-CNN + FPN on COCO, 3x (36 epochs, multi-scale + crop), with the DINO-pretrained
# (mmpretrain) Swin-T backbone; recipe in
# configs/_base_/recipes/mask-rcnn_fpn_ms-3x_coco.py.
_base_ = [
    '../_base_/recipes/mask-rcnn_fpn_ms-3x_coco.py',
    '../_base_/models/swin-t.py',
]
pretrained = 'work_dirs/pretrained/dino_swin-t_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.4,  # the ConvNeXt-T 3x value, as for every backbone here
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=_base_.backbone_channels))
# mmdet's num_layers=6 counts ConvNeXt-T's layer ids: decay over this backbone's own ids.
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, decay_rate=0.95, decay_type='layer_wise'))
