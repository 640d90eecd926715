# LKConvNeXt-T, 51 depthwise kernels decomposed SLaK-style (51x5 + 5x51 + 5x5),
# LayerNorm. Inherited by the pre-training, classification, detection and
# segmentation configs (configs/README.md).
backbone = dict(
    type='LKConvNeXt',
    arch='tiny',
    kernel_size=51,
    lk_mode='decomposed',
    decompose_width=5,
    small_kernel=5,
    norm_cfg=dict(type='LN2d', eps=1e-6),
    drop_path_rate=0.1)
backbone_channels = [96, 192, 384, 768]
# The re-parameterisable kernel branches carry BatchNorm even with LayerNorm
# elsewhere: SyncBatchNorm in distributed GPU runs, as RepLKNet (replknet.py:209,
# use_sync_bn=True) and SLaK (models/SLaK.py:19) train these branches.
sync_bn = 'torch'
