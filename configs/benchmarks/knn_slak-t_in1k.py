# k-NN accuracy (DINO protocol) of the DINO-pretrained SLaK-T (dense; slak-t.py base)
# on ImageNet-1k:   tools/test.py configs/benchmarks/knn_slak-t_in1k.py
# BACKBONE_CHECKPOINT (a checkpoint from tools/model_converters/ssl2backbone.py;
# multi-GPU with tools/dist_test.sh).
_base_ = [
    '../_base_/models/slak-t.py',
    '../_base_/datasets/imagenet_knn.py',
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/plugin.py',
]
model = dict(type='ImageClassifier', backbone=_base_.backbone)
