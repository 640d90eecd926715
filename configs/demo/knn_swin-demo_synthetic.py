# k-NN accuracy (DINO protocol: cosine similarity, temperature 0.07) of the demo Swin
# Transformer's last-stage features, average-pooled, on the generated data. Give it a
# checkpoint converted with tools/model_converters/ssl2backbone.py (or any checkpoint
# with backbone.* keys).
_base_ = [
    '../_base_/models/swin-demo.py',
    '../_base_/datasets/synthetic_knn.py',
    'mmpretrain::_base_/default_runtime.py',
    '../_base_/plugin.py',
]
model = dict(type='ImageClassifier', backbone=_base_.backbone)
