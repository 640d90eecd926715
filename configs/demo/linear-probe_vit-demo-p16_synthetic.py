# CPU demo: linear probe of the demo ViT's class token on the generated data
# (../_base_/recipes/linear-probe_1xb64-coslr-10e_synthetic.py): patch embedding,
# every layer and the final norm frozen.
_base_ = [
    '../_base_/recipes/linear-probe_1xb64-coslr-10e_synthetic.py',
    '../_base_/models/vit-demo.py',
]
pretrained = None  # a backbone checkpoint from tools/model_converters/ssl2backbone.py
model = dict(
    backbone=dict(
        _base_.backbone,
        frozen_stages=_base_.backbone.arch.num_layers,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        if pretrained else None),
    neck=dict(type='ClsBatchNormNeck', input_features=_base_.backbone_channels[-1]),
    head=dict(in_channels=_base_.backbone_channels[-1]))
