# LKConvNeXt-T, 9 depthwise kernels, LayerNorm. Inherited by the pre-training,
# classification, detection and segmentation configs (configs/README.md).
backbone = dict(
    type='LKConvNeXt',
    arch='tiny',
    kernel_size=9,
    lk_mode='plain',
    norm_cfg=dict(type='LN2d', eps=1e-6),
    drop_path_rate=0.1)
backbone_channels = [96, 192, 384, 768]
