# mmpretrain's own RepLKNet-31B (reused, not rewritten), usable by every task's
# configs through the scoped type name.
backbone = dict(
    type='mmpretrain.RepLKNet',
    arch='31B',
    out_indices=(3, ),
    drop_path_rate=0.1)
backbone_channels = [128, 256, 512, 1024]
