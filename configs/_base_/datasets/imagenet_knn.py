# k-NN evaluation on ImageNet-1k (DINO protocol): training images form the
# memory bank, validation images are the queries; resize 256 (bicubic) and
# centre crop 224, no augmentation; k = 10/20/100/200, cosine similarity,
# vote temperature 0.07.
data_root = 'data/imagenet/'
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)
eval_pipeline = [
    dict(type='StrictLoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
memory_dataloader = dict(
    batch_size=128,
    num_workers=10,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageNet', data_root=data_root, split='train', pipeline=eval_pipeline))
test_dataloader = dict(
    batch_size=128,
    num_workers=10,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageNet', data_root=data_root, split='val', pipeline=eval_pipeline))
test_evaluator = dict(type='KNNAccuracy', k=(10, 20, 100, 200), temperature=0.07,
                      topk=(1, 5))
test_cfg = dict(type='KNNTestLoop', memory_dataloader=memory_dataloader)
