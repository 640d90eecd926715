# CPU demo: Mask R-CNN + FPN with the demo ViT on the generated COCO-format data
# (../_base_/recipes/mask-rcnn_fpn_1xb4-12e_synthetic.py), wired as
# configs/mask_rcnn/mask-rcnn_vit-s-p16_fpn_1x_coco.py: the patch maps after layers 2, 3,
# 5 and 6 (a quarter of the depth apart, as 3, 6, 9, 12 of ViT-S) are rescaled from
# 1/16 to 1/4..1/32 by mmseg's MultiLevelNeck (a ViTDet-style simple pyramid; 64 channels, the
# demo FPN's width) before the FPN.
_base_ = [
    '../_base_/recipes/mask-rcnn_fpn_1xb4-12e_synthetic.py',
    '../_base_/models/vit-demo.py',
]
pretrained = None  # a backbone checkpoint from tools/model_converters/ssl2backbone.py
width = _base_.backbone_channels[-1]
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_type='featmap',
        out_indices=(1, 2, 4, 5),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        if pretrained else None),
    neck=[
        dict(type='mmseg.MultiLevelNeck', in_channels=[width] * 4, out_channels=64,
             scales=[4, 2, 1, 0.5]),
        dict(type='FPN', in_channels=[64] * 4, out_channels=64, num_outs=5),
    ])
