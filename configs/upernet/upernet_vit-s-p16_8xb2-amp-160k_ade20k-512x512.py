# UperNet on ADE20K, 160k iterations at 512x512 (8 GPUs x 2 images), with the
# DINO-pretrained (mmpretrain) ViT-S/16 backbone; recipe in
# configs/_base_/recipes/upernet_160k_ade20k-512x512.py.
_base_ = [
    '../_base_/recipes/upernet_160k_ade20k-512x512.py',
    '../_base_/models/vit-s-p16.py',
]
pretrained = 'work_dirs/pretrained/dino_vit-s-p16_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        img_size=_base_.crop_size,
        out_type='featmap',
        out_indices=(2, 5, 8, 11),
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(type='MultiLevelNeck', in_channels=[384] * 4, out_channels=384,
              scales=[4, 2, 1, 0.5]),
    decode_head=dict(in_channels=[384] * 4),
    auxiliary_head=dict(in_channels=384))
# Transformers have no stage ids here: layer-wise decay 0.9 over their blocks
# (get_layer_depth) instead of the ConvNeXt recipe's stage-wise decay.
optim_wrapper = dict(paramwise_cfg=dict(_delete_=True, decay_rate=0.9, decay_type='layer_wise'))
