# A laptop-sized LKConvNeXt for the CPU demo and tests: ConvNeXt blocks with
# depths 1-1-3-1, widths 32-64-128-256, the usual 4x4 stem (32 px local crops reach
# the last stage as 1x1) and 13x13 kernels (children override).
# BatchNorm (the paper's tweak for SSL CNNs) and layer scale 1.0: trained from
# scratch for a few CPU minutes, the LayerNorm / 1e-6 layer-scale form did not
# learn at all, even supervised (docs/dino.md, "Learning check").
backbone = dict(
    type='LKConvNeXt',
    arch=dict(depths=[1, 1, 3, 1], channels=[32, 64, 128, 256]),
    stem_patch_size=4,
    kernel_size=13,
    norm_cfg=dict(type='BN'),
    layer_scale_init_value=1.0,
    drop_path_rate=0.0)
backbone_channels = [32, 64, 128, 256]
# SyncBatchNorm if the demo configs are ever run distributed on GPUs; the demo runs
# in one process (mmengine keeps BatchNorm) and the CPU launcher turns it off.
sync_bn = 'torch'
