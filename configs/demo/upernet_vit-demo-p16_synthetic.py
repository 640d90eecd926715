# CPU demo: UperNet with the demo ViT on the generated ADE20K-format data
# (../_base_/recipes/upernet_1xb8-600it_synthetic.py), wired as
# configs/upernet/upernet_vit-s-p16_*: the patch maps after layers 2, 3, 5 and 6 are
# rescaled from 1/16 to 1/4..1/32 by MultiLevelNeck (64 channels, the demo
# decode head's width) before the heads.
_base_ = [
    '../_base_/recipes/upernet_1xb8-600it_synthetic.py',
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
    neck=dict(type='MultiLevelNeck', in_channels=[width] * 4, out_channels=64,
              scales=[4, 2, 1, 0.5]),
    decode_head=dict(in_channels=[64] * 4),
    auxiliary_head=dict(in_channels=64))
