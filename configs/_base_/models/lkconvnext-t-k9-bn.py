# LKConvNeXt-T, 9 depthwise kernels, BatchNorm (SyncBN when distributed).
# Inherited by the pre-training, classification, detection and segmentation
# configs (configs/README.md).
backbone = dict(
    type='LKConvNeXt',
    arch='tiny',
    kernel_size=9,
    lk_mode='plain',
    norm_cfg=dict(type='BN'),
    drop_path_rate=0.1)
backbone_channels = [96, 192, 384, 768]
# BatchNorm becomes SyncBatchNorm in distributed GPU runs (as in DINO for ConvNets)
sync_bn = 'torch'
