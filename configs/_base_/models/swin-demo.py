# A laptop-sized Swin Transformer for the CPU demo, the counterpart of Swin-T next to
# the demo LKConvNeXt (configs/_base_/models/lkconvnext-demo.py): 4x4 patches, four
# stages of two blocks (regular then shifted windows, as Swin-T's 2-2-6-2 keeps the
# pairs), widths 24-48-96-192 with 24-wide heads, 4x4 windows (a 64 px image gives
# 16x16, 8x8, 4x4 and 2x2 maps; smaller maps are padded to the window). About 1.3 M
# parameters and 0.02 GFLOPs at 64x64, like the demo LKConvNeXt (docs/demo.md lists
# the counts). No drop path (a few hundred CPU steps from scratch).
backbone = dict(
    type='mmpretrain.SwinTransformer',
    arch=dict(embed_dims=24, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8]),
    img_size=64,
    window_size=4,
    drop_path_rate=0.0,
    out_indices=(3, ),
    pad_small_map=True)
backbone_channels = [24, 48, 96, 192]
# SyncBatchNorm (the linear probe's neck, the detection and segmentation heads) if the demo
# configs are ever run distributed on GPUs, as configs/_base_/models/lkconvnext-demo.py.
sync_bn = 'torch'
