# Mask R-CNN + FPN on COCO, 3x (36 epochs, multi-scale + crop), with the DINO-pretrained
# LKConvNeXt-T, 13x13, BatchNorm backbone; recipe in
# configs/_base_/recipes/mask-rcnn_fpn_ms-3x_coco.py.
_base_ = [
    '../_base_/recipes/mask-rcnn_fpn_ms-3x_coco.py',
    '../_base_/models/lkconvnext-t-k13-bn.py',
]
pretrained = 'work_dirs/pretrained/dino_lkconvnext-t-k13-bn_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.4,  # mmdet's ConvNeXt-T 3x value
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=_base_.backbone_channels))
