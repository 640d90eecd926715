# A laptop-sized ViT for the CPU demo, the counterpart of ViT-S/16 next to the demo
# LKConvNeXt (configs/_base_/models/lkconvnext-demo.py): 16x16 patches (a 64 px image
# is a 4x4 grid, as a 224 px one is 14x14 for ViT-S/16), 6 layers of width 128 with
# 4 heads and MLP ratio 4, class token as the image feature. About 1.3 M parameters and
# 0.02 GFLOPs at 64x64, like the demo LKConvNeXt (docs/demo.md lists the counts);
# 8x8 patches would cost 4.7 times the FLOPs at this width. img_size is the demo's
# 64 px crop everywhere, so checkpoints fit every demo config; other input sizes
# (local crops, detection and segmentation images) interpolate the position
# embedding, as mmpretrain's VisionTransformer does. No drop path (a few hundred CPU
# steps from scratch, as the demo LKConvNeXt).
backbone = dict(
    type='mmpretrain.VisionTransformer',
    arch=dict(embed_dims=128, num_layers=6, num_heads=4, feedforward_channels=512),
    img_size=64,
    patch_size=16,
    drop_path_rate=0.0,
    out_type='cls_token')
backbone_channels = [128]
# SyncBatchNorm (the linear probe's neck, the detection and segmentation heads) if the demo
# configs are ever run distributed on GPUs, as configs/_base_/models/lkconvnext-demo.py.
sync_bn = 'torch'
