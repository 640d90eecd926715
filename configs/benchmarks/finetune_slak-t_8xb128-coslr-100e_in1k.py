# End-to-end fine-tuning of the DINO-pretrained SLaK-T (dense; configs/_base_/models/slak-t.py)
# on ImageNet-1k for 100 epochs; recipe in
# configs/_base_/recipes/finetune_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../_base_/recipes/finetune_8xb128-coslr-100e_in1k.py',
    '../_base_/models/slak-t.py',
]
pretrained = 'work_dirs/pretrained/dino_slak-t_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(in_channels=_base_.backbone_channels[-1]))
