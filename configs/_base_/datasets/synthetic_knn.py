# k-NN evaluation on the generated ImageNet-style data: the memory bank is the
# train split, queries the val split, both resized to 64 px without augmentation.
data_root = 'data/synthetic/imagenet/'
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
eval_pipeline = [
    dict(type='StrictLoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
memory_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root, ann_file='meta/train.txt',
                 data_prefix='train', pipeline=eval_pipeline))
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root, ann_file='meta/val.txt',
                 data_prefix='val', pipeline=eval_pipeline))
test_evaluator = dict(type='KNNAccuracy', k=(10, 20), temperature=0.07, topk=(1, ))
test_cfg = dict(type='KNNTestLoop', memory_dataloader=memory_dataloader)
