# A laptop-sized LKConvNeXt for the CPU demo and tests: ConvNeXt blocks with
# depths 1-1-3-1, widths 32-64-128-256, a 2x2 stem (total stride 16, so 32 px
# local crops still reach the last stage) and 13x13 kernels (children override).
backbone = dict(
    type='LKConvNeXt',
    arch=dict(depths=[1, 1, 3, 1], channels=[32, 64, 128, 256]),
    stem_patch_size=2,
    kernel_size=13,
    norm_cfg=dict(type='LN2d', eps=1e-6),
    drop_path_rate=0.0)
backbone_channels = [32, 64, 128, 256]
