# ViT-S/16 (DeiT-S shape: 384 wide, 12 layers, 6 heads), the paper's Transformer
# baseline; the class token is the image feature.
backbone = dict(
    type='mmpretrain.VisionTransformer',
    arch='deit-small',
    img_size=224,
    patch_size=16,
    drop_path_rate=0.1,
    out_type='cls_token')
backbone_channels = [384]
