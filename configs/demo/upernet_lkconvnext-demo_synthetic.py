# CPU demo/test: UperNet with the demo LKConvNeXt on the generated ADE20K-format data
# (../_base_/recipes/upernet_1xb8-600it_synthetic.py); the four stages feed the heads.
_base_ = [
    '../_base_/recipes/upernet_1xb8-600it_synthetic.py',
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
    decode_head=dict(in_channels=_base_.backbone_channels),
    auxiliary_head=dict(in_channels=_base_.backbone_channels[2]))
