# LKConvNeXt-T, 31 depthwise kernels re-parameterised RepLKNet-style (31x31 +
# 5x5 branch), LayerNorm. Inherited by the pre-training, classification,
# detection and segmentation configs (configs/README.md).
backbone = dict(
    type='LKConvNeXt',
    arch='tiny',
    kernel_size=31,
    lk_mode='reparam',
    small_kernel=5,
    norm_cfg=dict(type='LN2d', eps=1e-6),
    drop_path_rate=0.1)
backbone_channels = [96, 192, 384, 768]
# The re-parameterisable kernel branches carry BatchNorm even with LayerNorm
# elsewhere: SyncBatchNorm in distributed GPU runs, as RepLKNet (replknet.py:209,
# use_sync_bn=True) and SLaK (models/SLaK.py:19) train these branches.
sync_bn = 'torch'
