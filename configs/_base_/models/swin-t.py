# Swin-T, the paper's hierarchical Transformer baseline.
backbone = dict(
    type='mmpretrain.SwinTransformer',
    arch='tiny',
    img_size=224,
    drop_path_rate=0.1,
    out_indices=(3, ),
    pad_small_map=True)
backbone_channels = [96, 192, 384, 768]
