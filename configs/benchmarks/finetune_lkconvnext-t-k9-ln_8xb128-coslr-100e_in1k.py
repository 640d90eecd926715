# End-to-end fine-tuning of the DINO-pretrained LKConvNeXt-T, 9x9, LayerNorm on
# ImageNet-1k for 100 epochs; recipe in
# configs/_base_/recipes/finetune_8xb128-coslr-100e_in1k.py.
_base_ = [
    '../_base_/recipes/finetune_8xb128-coslr-100e_in1k.py',
    '../_base_/models/lkconvnext-t-k9-ln.py',
]
pretrained = 'work_dirs/pretrained/dino_lkconvnext-t-k9-ln_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    head=dict(in_channels=768))
