# DINO multi-crop on the generated ImageNet-style data (tools/data/make_synthetic.py):
# the ImageNet recipe's views at 64 px (2 global) and 32 px (4 local) crops, with the
# Gaussian blur radius (0.1-2.0 px for 224 px crops) scaled to 64 px; with the
# former pipeline (mmpretrain's MultiView, all in the data loader), kept
# selectable. The default is synthetic_dino_multicrop.py.
_base_ = ['./imagenet_dino_multicrop_mmpretrain.py']
data_root = 'data/synthetic/imagenet/'
blur_radius = (0.1 * 64 / 224, 2.0 * 64 / 224)


def _resize_view(view, size):
    """A view pipeline of the base at another crop size and blur radius."""
    crop, *middle, blur = view[0], view[1:-1], view[-1]
    return [dict(crop, scale=size), *middle[0], dict(blur, magnitude_range=blur_radius)]


global_view_1 = _resize_view(_base_.global_view_1, 64)
global_view_2 = [*_resize_view(_base_.global_view_2[:-1], 64), _base_.global_view_2[-1]]
local_view = _resize_view(_base_.local_view, 32)
train_pipeline = [
    dict(type='StrictLoadImageFromFile', max_skips=10),
    dict(type='MultiView', num_views=[1, 1, 4],
         transforms=[global_view_1, global_view_2, local_view]),
    dict(type='PackInputs'),
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
