# UperNet on ADE20K, 160k iterations at 512x512 (8 GPUs x 2 images), with the
# DINO-pretrained RepLKNet-31B (mmpretrain's implementation, reused as is); recipe in
# configs/_base_/recipes/upernet_160k_ade20k-512x512.py. RepLKNet has no layer ids, so
# the lr is uniform (mmengine's default constructor) with no weight decay on norm layers,
# as RepLKNet's own UperNet config does (DingXiaoH/RepLKNet-pytorch segmentation/configs/
# RepLKNet-31B_1Kpretrain_upernet_160k_ade20k_512.py:14, paramwise_cfg=dict(
# norm_decay_mult=0)). lr 1e-4, batch 16 and 160k iterations stay those of the shared
# mmseg recipe, so every backbone gets the same schedule; RepLKNet's run used lr 2e-4 at
# batch 128 (64 GPUs x 2) over 40k iterations (:7-16).
_base_ = [
    '../_base_/recipes/upernet_160k_ade20k-512x512.py',
    '../_base_/models/replknet-31b.py',
]
pretrained = 'work_dirs/pretrained/dino_replknet-31b_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        norm_intermediate_features=True,
        # RepLKNet-31B's own UperNet (RepLKNet-pytorch segmentation/configs/RepLKNet_upernet.py:10)
        drop_path_rate=0.5,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=_base_.backbone_channels),
    auxiliary_head=dict(in_channels=_base_.backbone_channels[2]))
optim_wrapper = dict(
    constructor='DefaultOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0))
