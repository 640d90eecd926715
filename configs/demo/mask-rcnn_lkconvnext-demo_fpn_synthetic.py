# CPU demo/test: Mask R-CNN + FPN with the demo LKConvNeXt on the generated COCO-format
# data (../_base_/recipes/mask-rcnn_fpn_1xb4-12e_synthetic.py); the four stages feed
# the FPN.
_base_ = [
    '../_base_/recipes/mask-rcnn_fpn_1xb4-12e_synthetic.py',
    '../_base_/models/lkconvnext-demo.py',
]
pretrained = None  # a backbone checkpoint from tools/model_converters/ssl2backbone.py
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        if pretrained else None),
    neck=dict(in_channels=_base_.backbone_channels))
