# CPU demo: linear probe of the demo Swin Transformer on the generated data
# (../_base_/recipes/linear-probe_1xb64-coslr-10e_synthetic.py): every stage frozen,
# the last stage's map average-pooled (as configs/benchmarks/linear-probe_swin-t_*).
_base_ = [
    '../_base_/recipes/linear-probe_1xb64-coslr-10e_synthetic.py',
    '../_base_/models/swin-demo.py',
]
pretrained = None  # a backbone checkpoint from tools/model_converters/ssl2backbone.py
model = dict(
    backbone=dict(
        _base_.backbone,
        frozen_stages=3,  # mmpretrain's Swin counts from 0: stages 0-3 and norm3
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')
        if pretrained else None),
    neck=[dict(type='GlobalAveragePooling'),
          dict(type='ClsBatchNormNeck', input_features=_base_.backbone_channels[-1])],
    head=dict(in_channels=_base_.backbone_channels[-1]))
