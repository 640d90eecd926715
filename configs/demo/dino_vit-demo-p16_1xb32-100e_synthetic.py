# CPU demo: DINO pre-training of the demo ViT (16x16 patches, 6 layers of width 128)
# with the same recipe and budget as the demo LKConvNeXt
# (../_base_/recipes/dino_1xb32-100e_synthetic.py); the class token feeds the head.
_base_ = [
    '../_base_/recipes/dino_1xb32-100e_synthetic.py',
    '../_base_/models/vit-demo.py',
]
model = dict(backbone=_base_.backbone, neck=dict(in_channels=_base_.backbone_channels[-1]))
