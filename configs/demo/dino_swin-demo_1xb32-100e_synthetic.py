# CPU demo: DINO pre-training of the demo Swin Transformer (widths 24-192, 4x4
# windows) with the same recipe and budget as the demo LKConvNeXt
# (../_base_/recipes/dino_1xb32-100e_synthetic.py); the last stage's map is pooled.
_base_ = [
    '../_base_/recipes/dino_1xb32-100e_synthetic.py',
    '../_base_/models/swin-demo.py',
]
model = dict(backbone=_base_.backbone, neck=dict(in_channels=_base_.backbone_channels[-1]))
