# DINO multi-crop on the generated ImageNet-style data (tools/data/make_synthetic.py):
# the ImageNet recipe's views at 64 px (2 global) and 32 px (4 local) crops, with the
# Gaussian blur radius (0.1-2.0 px for 224 px crops) scaled to 64 px. The former
# pipeline (mmpretrain's MultiView, all in the data loader):
# synthetic_dino_multicrop_mmpretrain.py.
_base_ = ['./imagenet_dino_multicrop.py']
data_root = 'data/synthetic/imagenet/'
global_view_1 = dict(_base_.global_view_1, size=64)
global_view_2 = dict(_base_.global_view_2, size=64)
local_view = dict(_base_.local_view, num_views=4, size=32)
train_pipeline = [
    dict(type='StrictLoadImageFromFile', max_skips=10, defer_decode=True),
    dict(_base_.train_pipeline[1], views=[global_view_1, global_view_2, local_view],
         blur_sigma=(0.1 * 64 / 224, 2.0 * 64 / 224)),
    _base_.train_pipeline[2],
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    pin_memory=False,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root=data_root,
        ann_file='meta/train.txt',
        data_prefix='train',
        pipeline=train_pipeline))
