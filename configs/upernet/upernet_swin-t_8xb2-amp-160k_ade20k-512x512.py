# UperNet on ADE20K, 160k iterations at 512x512 (8 GPUs x 2 images), with the
# DINO-pretrained (mmpretrain) Swin-T backbone; recipe in
# configs/_base_/recipes/upernet_160k_ade20k-512x512.py.
_base_ = [
    '../_base_/recipes/upernet_160k_ade20k-512x512.py',
    '../_base_/models/swin-t.py',
]
pretrained = 'work_dirs/pretrained/dino_swin-t_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=_base_.backbone_channels),
    auxiliary_head=dict(in_channels=_base_.backbone_channels[2]))
# Transformers have no stage ids here: layer-wise decay 0.9 over their blocks
# (get_layer_depth) instead of the ConvNeXt recipe's stage-wise decay.
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, decay_rate=0.9, decay_type='layer_wise'))
