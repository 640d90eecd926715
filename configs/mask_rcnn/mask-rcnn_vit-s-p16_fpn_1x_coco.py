# Mask R-CNN + FPN on COCO, 1x (12 epochs, single scale), with the DINO-pretrained
# (mmpretrain) ViT-S/16 backbone; recipe in
# configs/_base_/recipes/mask-rcnn_fpn_1x_coco.py. ViT-S gives four 1/16 maps; mmseg's
# MultiLevelNeck rescales them to 1/4..1/32 (a ViTDet-style simple pyramid) before the
# FPN.
_base_ = [
    '../_base_/recipes/mask-rcnn_fpn_1x_coco.py',
    '../_base_/models/vit-s-p16.py',
]
pretrained = 'work_dirs/pretrained/dino_vit-s-p16_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_type='featmap',
        out_indices=(2, 5, 8, 11),
        drop_path_rate=0.2,  # mmdet's Swin-T 1x value (no ConvNeXt 1x upstream)
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=[
        dict(type='mmseg.MultiLevelNeck', in_channels=[384] * 4, out_channels=384,
             scales=[4, 2, 1, 0.5]),
        dict(type='FPN', in_channels=[384] * 4, out_channels=256, num_outs=5),
    ])
