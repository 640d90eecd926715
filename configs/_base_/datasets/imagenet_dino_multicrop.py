# ImageNet-1k with DINO's multi-crop (facebookresearch/dino main_dino.py,
# DataAugmentationDINO, lines 419-464, and utils.py GaussianBlur / Solarization):
# 2 global 224 crops (scale 0.4-1) and 8 local 96 crops (scale 0.05-0.4),
# bicubic; flip p=0.5; colour jitter p=0.8 (brightness 0.4, contrast 0.4,
# saturation 0.2, hue 0.1, random order); grayscale p=0.2; Gaussian blur, radius
# 0.1-2.0, p=1.0 / 0.1 / 0.5 (first global / second global / local views);
# solarisation (threshold 128) p=0.2 on the second global view only.
#
# Split for speed (docs/speed.md, "Data loading"): MultiCrop does the geometry
# in the data loader (crop boxes drawn in the original image, JPEG decoded at
# reduced DCT scale when every crop allows it) and draws every view's colour
# parameters; MultiCropDataPreprocessor applies them batched on the training
# device (uint8 goes to the device, pinned). The former all-in-the-loader
# pipeline: imagenet_dino_multicrop_mmpretrain.py.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'
data_preprocessor = dict(
    type='MultiCropDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
    non_blocking=True)

flip_and_color_jitter = dict(
    flip_prob=0.5,
    color_jitter=dict(prob=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1),
    grayscale_prob=0.2)
global_view_1 = dict(num_views=1, size=224, crop_scale_range=(0.4, 1.), blur_prob=1.0,
                     solarize_prob=0.)
global_view_2 = dict(num_views=1, size=224, crop_scale_range=(0.4, 1.), blur_prob=0.1,
                     solarize_prob=0.2)
local_view = dict(num_views=8, size=96, crop_scale_range=(0.05, 0.4), blur_prob=0.5,
                  solarize_prob=0.)
train_pipeline = [
    # corrupt images: log and skip up to 100 per data-loading process, then stop;
    # decoding waits for MultiCrop, which knows the scale it needs
    dict(type='StrictLoadImageFromFile', max_skips=100, defer_decode=True),
    dict(type='MultiCrop',
         views=[global_view_1, global_view_2, local_view],
         crop_ratio_range=(3. / 4., 4. / 3.),
         interpolation='bicubic',
         blur_sigma=(0.1, 2.0),
         solarize_threshold=128,
         **flip_and_color_jitter),
    dict(type='PackInputs', algorithm_keys=['photometric_params']),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline=train_pipeline))
