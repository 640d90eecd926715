# mmpretrain's own RepLKNet-31B (reused, not rewritten), usable by every task's
# configs through the scoped type name.
backbone = dict(
    type='mmpretrain.RepLKNet',
    arch='31B',
    out_indices=(3, ),
    drop_path_rate=0.1)
backbone_channels = [128, 256, 512, 1024]
# RepLKNet is a BatchNorm network: SyncBatchNorm in distributed GPU runs, as
# RepLKNet trains it (DingXiaoH/RepLKNet-pytorch replknet.py:209 use_sync_bn=True,
# segmentation/configs/RepLKNet_upernet.py:17).
sync_bn = 'torch'
