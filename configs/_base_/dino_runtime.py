# Runtime of the SSL pre-training configs: mmpretrain's defaults plus the
# plugin, checkpoints every 10 epochs (last 3 kept) and the collapse monitor.
_base_ = ['mmpretrain::_base_/default_runtime.py', './plugin.py']
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
custom_hooks = [dict(type='CollapseMonitorHook', interval=100), dict(type='RNGStateHook')]
find_unused_parameters = False
