# Swin-T, the paper's hierarchical Transformer baseline.
backbone = dict(
    type='mmpretrain.SwinTransformer',
    arch='tiny',
    img_size=224,
    drop_path_rate=0.1,
    out_indices=(3, ),
    pad_small_map=True)
backbone_channels = [96, 192, 384, 768]
# Pre-training from scratch initialises every Linear layer trunc-normal 0.02 and
# LayerNorms to 1 / 0, as EsViT's Swin (microsoft/esvit models/swin_transformer.py:
# 658-666) and mmpretrain's own Swin classification configs do; mmpretrain's
# backbone alone leaves Linear layers at PyTorch's default.
ssl_backbone = dict(
    backbone,
    init_cfg=[
        dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
        dict(type='Constant', layer='LayerNorm', val=1., bias=0.),
    ])
# Every BatchNorm of a model built on this base (backbone, necks, heads) trains as
# SyncBatchNorm in distributed GPU runs, as main_dino.py:196-198 converts any model
# with BatchNorm; a no-op without BatchNorm (tests/test_recipe_fidelity.py checks
# every config).
sync_bn = 'torch'
