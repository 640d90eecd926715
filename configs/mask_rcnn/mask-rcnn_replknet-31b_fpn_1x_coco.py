# Mask R-CNN + FPN on COCO, 1x (12 epochs, single scale), with the DINO-pretrained
# RepLKNet-31B (mmpretrain's implementation, reused as is); recipe in
# configs/_base_/recipes/mask-rcnn_fpn_1x_coco.py. RepLKNet has no layer ids, so the
# lr is uniform (mmengine's default constructor) with no weight decay on norm layers, as
# RepLKNet's own detection config does (DingXiaoH/RepLKNet-pytorch detection/configs/
# RepLKNet-31B_1Kpretrain_cascade_mask_rcnn_3x_coco.py:57, paramwise_cfg=dict(
# norm_decay_mult=0)).
_base_ = [
    '../_base_/recipes/mask-rcnn_fpn_1x_coco.py',
    '../_base_/models/replknet-31b.py',
]
pretrained = 'work_dirs/pretrained/dino_replknet-31b_teacher.pth'
model = dict(
    backbone=dict(
        _base_.backbone,
        _delete_=True,
        out_indices=(0, 1, 2, 3),
        norm_intermediate_features=True,
        # no RepLKNet Mask R-CNN 1x upstream: above the -T backbones' 0.2 for a larger model
        # (RepLKNet README.md:215), below its 36-epoch Cascade Mask R-CNN's 0.6
        # (detection/configs/RepLKNet_cascade_mask_rcnn_coco.py:10)
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=_base_.backbone_channels))
optim_wrapper = dict(
    constructor='DefaultOptimWrapperConstructor',
    paramwise_cfg=dict(_delete_=True, norm_decay_mult=0.0))
