# UperNet on ADE20K, 160k iterations at 512x512 (8 GPUs x 2 images), with the
# DINO-pretrained LKConvNeXt-T, 13x13, LayerNorm backbone; recipe in
# configs/_base_/recipes/upernet_160k_ade20k-512x512.py.
_base_ = [
    '../_base_/recipes/upernet_160k_ade20k-512x512.py',
    '../_base_/models/lkconvnext-t-k13-ln.py',
]
pretrained = 'work_dirs/pretrained/dino_lkconvnext-t-k13-ln_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        gap_before_final_norm=False,
        drop_path_rate=0.4,  # mmseg's ConvNeXt-T UperNet value
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=_base_.backbone_channels),
    auxiliary_head=dict(in_channels=_base_.backbone_channels[2]))
