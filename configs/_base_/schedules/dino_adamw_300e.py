# The DINO reference optimisation recipe (dino_adamw_100e.py) over 300 epochs
# (--epochs 300, facebookresearch/dino README.md:187; EsViT README.md:344):
# the same warm-up, lr, weight-decay cosine and clipping, stretched to the run.
_base_ = ['./dino_adamw_100e.py']
max_epochs = 300
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=max_epochs - _base_.warmup_epochs, end=max_epochs),
    dict(_base_.param_scheduler[2], T_max=max_epochs, end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs)
