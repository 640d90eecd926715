# k-NN accuracy of the teacher during SSL pre-training on the generated data
# (KNNValLoop): train split as memory bank, val split as queries, no augmentation.
knn_pipeline = [
    dict(type='StrictLoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root='data/synthetic/imagenet/',
                 ann_file='meta/val.txt', data_prefix='val', pipeline=knn_pipeline))
val_evaluator = dict(type='KNNAccuracy', k=(20, ), temperature=0.07, topk=(1, ))
val_cfg = dict(
    type='KNNValLoop',
    use_teacher=True,
    memory_dataloader=dict(
        batch_size=64,
        num_workers=2,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=dict(type='CustomDataset', data_root='data/synthetic/imagenet/',
                     ann_file='meta/train.txt', data_prefix='train', pipeline=knn_pipeline)))
