# ImageNet-1k with DINO's multi-crop: 2 global 224 crops (scale 0.4-1) and
# 8 local 96 crops (scale 0.05-0.4), flip, colour jitter, grayscale, blur and
# solarisation as in facebookresearch/dino (main_dino.py DataAugmentationDINO).
# The former pipeline, kept selectable: everything per image in the data loader
# with mmpretrain's MultiView and numpy transforms. The default,
# imagenet_dino_multicrop.py, draws the same augmentation about 9x faster per
# data-loading CPU core (docs/speed.md, "Data loading"); to use this one, inherit
# it in place of imagenet_dino_multicrop.py.
_base_ = ['./imagenet_dino_multicrop.py']  # the same data and loader settings
data_preprocessor = dict(
    _delete_=True,
    type='SelfSupDataPreprocessor',
    mean=_base_.data_preprocessor.mean,
    std=_base_.data_preprocessor.std,
    to_rgb=True)

flip_and_color_jitter = [
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
        ],
        prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
]
global_view_1 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.4, 1.),
         interpolation='bicubic', backend='pillow'),
    *flip_and_color_jitter,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=1.0),
]
global_view_2 = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.4, 1.),
         interpolation='bicubic', backend='pillow'),
    *flip_and_color_jitter,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
local_view = [
    dict(type='RandomResizedCrop', scale=96, crop_ratio_range=(0.05, 0.4),
         interpolation='bicubic', backend='pillow'),
    *flip_and_color_jitter,
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
]
train_pipeline = [
    # corrupt images: log and skip up to 100 per data-loading process, then stop
    dict(type='StrictLoadImageFromFile', max_skips=100),
    dict(type='MultiView', num_views=[1, 1, 8],
         transforms=[global_view_1, global_view_2, local_view]),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
