# Mask R-CNN + FPN on the generated COCO-format data (CPU demo and tests): mmdet's Mask
# R-CNN with channels narrowed for the CPU and anchors halved for the small objects;
# the recipe of the full configs (../recipes/mask-rcnn_fpn_1x_coco.py: AdamW, wd 0.05,
# layer-wise lr decay) in fp32 with warm-up then cosine; mmdet's CocoMetric (bbox and
# segm mAP). The configs in configs/demo/mask-rcnn_* add a backbone base config and set
# model.backbone and the FPN's inputs (in_channels, or a neck list for ViT).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
    '../datasets/synthetic_coco_instance.py',
    '../plugin.py',
]
num_classes = 4
model = dict(
    neck=dict(out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300)))
max_epochs = 12
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(decay_rate=0.9),
    # lr picked on the random-init demo LKConvNeXt only (small demo, 4 epochs, seed 0,
    # box AP): 4e-4: 5.4, 1e-3: 13.5, 2e-3: 16.6, 4e-3: 5.3 (docs/demo.md)
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
auto_scale_lr = dict(enable=False, base_batch_size=4)
