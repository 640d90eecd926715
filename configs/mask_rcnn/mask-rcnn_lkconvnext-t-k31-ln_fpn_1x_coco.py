# Mask R-CNN + FPN on COCO, 1x (12 epochs, single scale), with the DINO-pretrained
# LKConvNeXt-T, 31x31, LayerNorm backbone; recipe in
# configs/_base_/recipes/mask-rcnn_fpn_1x_coco.py.
_base_ = [
    '../_base_/recipes/mask-rcnn_fpn_1x_coco.py',
    '../_base_/models/lkconvnext-t-k31-ln.py',
]
pretrained = 'work_dirs/pretrained/dino_lkconvnext-t-k31-ln_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.2,  # mmdet's Swin-T 1x value (no ConvNeXt 1x upstream)
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=_base_.backbone_channels))
