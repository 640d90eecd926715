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
# Pre-training from scratch uses DINO's ViT initialisation (trunc-normal 0.02 on
# Linear weights, class token and position embedding; facebookresearch/dino
# vision_transformer.py:161-172) instead of mmpretrain's: the same network,
# whose checkpoints load into the VisionTransformer above.
ssl_backbone = dict(backbone, type='mmpretrain.DINOViT')
# Every BatchNorm of a model built on this base (backbone, necks, heads) trains as
# SyncBatchNorm in distributed GPU runs, as main_dino.py:196-198 converts any model
# with BatchNorm; a no-op without BatchNorm (tests/test_recipe_fidelity.py checks
# every config).
sync_bn = 'torch'
