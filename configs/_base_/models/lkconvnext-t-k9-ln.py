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
# Every BatchNorm of a model built on this base (backbone, necks, heads) trains as
# SyncBatchNorm in distributed GPU runs, as main_dino.py:196-198 converts any model
# with BatchNorm; a no-op without BatchNorm (tests/test_recipe_fidelity.py checks
# every config).
sync_bn = 'torch'
