# UperNet on ADE20K, 160k iterations at 512x512 (8 GPUs x 2 images), with the
# DINO-pretrained SLaK-T (dense; configs/_base_/models/slak-t.py) backbone; recipe in
# configs/_base_/recipes/upernet_160k_ade20k-512x512.py. SLaK's own UperNet is the same
# recipe: drop path 0.4, AdamW 1e-4, stage-wise decay 0.9 with num_layers 6, 1500-iteration
# warm-up, poly (VITA-Group/SLaK segmentation/configs/upernet_slak_tiny_512_160k_ade20k_ss.py:
# 24, :44-48, :55-59; batch 16 as 4 GPUs x 4 images, :62).
_base_ = [
    '../_base_/recipes/upernet_160k_ade20k-512x512.py',
    '../_base_/models/slak-t.py',
]
pretrained = 'work_dirs/pretrained/dino_slak-t_teacher.pth'
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
