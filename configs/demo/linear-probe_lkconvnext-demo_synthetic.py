# CPU demo/test: linear probe of the demo LKConvNeXt on the generated data
# (../_base_/recipes/linear-probe_1xb64-coslr-10e_synthetic.py): every stage and the
# output norm frozen, BatchNorm in eval mode.
_base_ = [
    '../_base_/recipes/linear-probe_1xb64-coslr-10e_synthetic.py',
    '../_base_/models/lkconvnext-demo.py',
]
pretrained = None  # a backbone checkpoint from tools/model_converters/ssl2backbone.py
model = dict(
    backbone=dict(
        _base_.backbone,
        frozen_stages=4,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        if pretrained else None),
    neck=dict(type='ClsBatchNormNeck', input_features=_base_.backbone_channels[-1]),
    head=dict(in_channels=_base_.backbone_channels[-1]))
