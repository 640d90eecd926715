# k-NN accuracy (DINO protocol) of the DINO-pretrained RepLKNet-31B (mmpretrain's) on
# ImageNet-1k: tools/test.py configs/benchmarks/knn_replknet-31b_in1k.py BACKBONE_CHECKPOINT
# (its feature map is average-pooled by the k-NN loop).
_base_ = [
    '../_base_/models/replknet-31b.py',
    '../_base_/datasets/imagenet_knn.py',
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/plugin.py',
]
model = dict(type='ImageClassifier', backbone=_base_.backbone)
