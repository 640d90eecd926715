# CPU demo: DINO pre-training of the demo LKConvNeXt (13x13 kernels; the demo sets
# model.backbone.kernel_size) on the generated data, with the demo's DINO recipe
# (../_base_/recipes/dino_1xb32-100e_synthetic.py). 100 epochs as written; the demo
# runs fewer with tools/train.py --epochs N (every schedule follows). See docs/dino.md.
_base_ = [
    '../_base_/recipes/dino_1xb32-100e_synthetic.py',
    '../_base_/models/lkconvnext-demo.py',
]
model = dict(backbone=_base_.backbone, neck=dict(in_channels=_base_.backbone_channels[-1]))
