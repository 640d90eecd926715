"""Evaluation: weighted k-NN on frozen features."""
from .knn import KNNAccuracy, KNNTestLoop, KNNValLoop, knn_predict, topk_accuracy

__all__ = ['KNNAccuracy', 'KNNTestLoop', 'KNNValLoop', 'knn_predict', 'topk_accuracy']
