"""Weighted k-NN evaluation of frozen features (the DINO protocol).

mmpretrain has no k-NN classifier for self-supervised features; this module
adds one in mmengine's terms so that ``tools/test.py`` (and
``tools/dist_test.sh``) run it like any other evaluation:

* :class:`KNNAccuracy`, a metric: the test features' labels are predicted by
  their ``k`` nearest training features (cosine similarity), each neighbour
  voting with weight ``exp(similarity / temperature)``;
* :class:`KNNTestLoop` / :class:`KNNValLoop`: extract the training features
  (the memory bank) first, then the evaluation features, through the model's
  backbone (or the SSL teacher's). Ranks extract their shards; mmengine's
  ``collect_results`` gathers them on rank 0 in dataset order, where the
  metric is computed and then broadcast.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.dist import collect_results, get_rank
from mmengine.evaluator import BaseMetric
from mmengine.model import is_model_wrapper
from mmengine.registry import LOOPS, METRICS
from mmengine.runner import TestLoop, ValLoop
from mmengine.runner.amp import autocast

from lkssl_mm.utils.ssl_checkpoint import teacher_backbone


def knn_predict(train_features: torch.Tensor, train_labels: torch.Tensor,
                test_features: torch.Tensor, num_classes: int, k: int = 20,
                temperature: float = 0.07, chunk_size: int = 256) -> torch.Tensor:
    """Class scores of each test feature from its k nearest training features.

    Args:
        train_features (Tensor): (N, D) L2-normalised memory bank.
        train_labels (Tensor): (N,) integer labels.
        test_features (Tensor): (M, D) L2-normalised queries.
        num_classes (int): Number of classes.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Softmax temperature of the votes. Defaults to 0.07.
        chunk_size (int): Queries per matrix product (bounds memory).

    Returns:
        Tensor: (M, num_classes) summed vote weights.
    """
    k = min(k, len(train_features))
    scores = []
    for start in range(0, len(test_features), chunk_size):
        similarity = test_features[start:start + chunk_size] @ train_features.T
        top_sim, top_idx = similarity.topk(k, dim=1)
        votes = torch.zeros(len(top_idx), num_classes, dtype=similarity.dtype,
                            device=similarity.device)
        votes.scatter_add_(1, train_labels[top_idx], (top_sim / temperature).exp())
        scores.append(votes)
    return torch.cat(scores)


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, topk: int) -> float:
    """Percentage of rows whose label is among the ``topk`` highest scores."""
    topk = min(topk, scores.shape[1])
    hits = (scores.topk(topk, dim=1).indices == labels[:, None]).any(dim=1)
    return float(hits.float().mean() * 100)


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """Top-k accuracy of a weighted k-NN classifier on frozen features.

    The memory bank (training features and labels) is set by
    :class:`KNNTestLoop` / :class:`KNNValLoop` before evaluation.

    Args:
        k (int | Sequence[int]): Neighbour counts to report. Defaults to (10, 20, 100, 200).
        temperature (float): Vote temperature. Defaults to 0.07.
        topk (Sequence[int]): Accuracies to report. Defaults to (1, 5).
        num_classes (int, optional): Defaults to the largest label + 1.
        prefix (str): Metric name prefix. Defaults to 'knn'.
    """

    default_prefix = 'knn'

    def __init__(self, k: Union[int, Sequence[int]] = (10, 20, 100, 200),
                 temperature: float = 0.07, topk: Sequence[int] = (1, 5),
                 num_classes: Optional[int] = None, prefix: Optional[str] = None,
                 collect_device: str = 'cpu'):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ks = [k] if isinstance(k, int) else list(k)
        self.temperature = temperature
        self.topk = list(topk)
        self.num_classes = num_classes
        self.memory_bank: Optional[List[dict]] = None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(dict(feature=sample['feature'],
                                     gt_label=int(sample['gt_label'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not self.memory_bank:
            raise RuntimeError('KNNAccuracy needs a memory bank: run it with KNNTestLoop '
                               'or KNNValLoop (test_cfg / val_cfg type)')
        train_features, train_labels = stack_samples(self.memory_bank)
        test_features, test_labels = stack_samples(results)
        num_classes = self.num_classes or int(max(train_labels.max(), test_labels.max())) + 1
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        train_features, train_labels = train_features.to(device), train_labels.to(device)
        test_features, test_labels = test_features.to(device), test_labels.to(device)
        metrics = {}
        for k in self.ks:
            scores = knn_predict(train_features, train_labels, test_features, num_classes, k,
                                 self.temperature)
            for topk in self.topk:
                metrics[f'top{topk}_k{k}'] = topk_accuracy(scores, test_labels, topk)
        return metrics


def stack_samples(samples: List[dict]):
    """(features, labels) tensors from a list of ``{'feature', 'gt_label'}`` dicts."""
    features = torch.stack([s['feature'] for s in samples]).float()
    labels = torch.tensor([s['gt_label'] for s in samples], dtype=torch.long)
    return features, labels


class _KNNLoopMixin:
    """Feature extraction shared by the k-NN test and validation loops.

    Args:
        memory_dataloader (dict): Dataloader of the labelled training split
            (deterministic pipeline), whose features form the memory bank.
        use_teacher (bool): Use the EMA teacher's backbone of an SSL model
            (DINO ``teacher``, MoCo v3 ``momentum_encoder``, BYOL
            ``target_net``) when it has one. Defaults to True.
        fp16 (bool): Extract the features under mmengine's ``autocast``, as
            its ``TestLoop`` runs the model with ``fp16=True``: float16 on CUDA,
            bfloat16 on the CPU. The features are L2-normalised and voted on in
            float32 either way. Defaults to False.
    """

    mode: str  # 'test' or 'val': which hooks the loop calls

    def __init__(self, runner, dataloader, evaluator, memory_dataloader: dict,
                 use_teacher: bool = True, fp16: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        self.memory_dataloader = runner.build_dataloader(
            memory_dataloader, seed=runner.seed, diff_rank_seed=False)
        self.use_teacher = use_teacher

    def _model(self) -> torch.nn.Module:
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    def _backbone(self) -> torch.nn.Module:
        model = self._model()
        teacher = teacher_backbone(model) if self.use_teacher else None
        return teacher if teacher is not None else model.backbone

    @torch.no_grad()
    def _features(self, data_batch: dict) -> List[dict]:
        data = self._model().data_preprocessor(data_batch, False)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        with autocast(enabled=self.fp16):
            out = self._backbone()(inputs)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        if out.dim() == 4:
            out = out.mean((2, 3))
        features = F.normalize(out.float(), dim=1).cpu()
        return [dict(feature=f, gt_label=int(s.gt_label)) for f, s in
                zip(features, data['data_samples'])]

    def extract_features(self, dataloader) -> Optional[List[dict]]:
        """``{'feature', 'gt_label'}`` of every sample of ``dataloader``, in dataset order.

        Gathered on rank 0 (None on the other ranks); the model must be in eval mode.
        """
        samples = []
        for data_batch in dataloader:
            samples.extend(self._features(data_batch))
        return collect_results(samples, len(dataloader.dataset),
                               'gpu' if torch.cuda.is_available() else 'cpu')

    def _memory_bank(self) -> Optional[List[dict]]:
        return self.extract_features(self.memory_dataloader)

    def run(self) -> dict:
        """Extract the memory bank, then evaluate the queries, calling the mode's hooks."""
        runner, mode = self.runner, self.mode
        runner.call_hook(f'before_{mode}')
        runner.call_hook(f'before_{mode}_epoch')
        was_training = runner.model.training
        runner.model.eval()
        bank = self._memory_bank()
        for metric in self.evaluator.metrics:
            if isinstance(metric, KNNAccuracy):
                metric.memory_bank = bank if get_rank() == 0 else None
        for idx, data_batch in enumerate(self.dataloader):
            runner.call_hook(f'before_{mode}_iter', batch_idx=idx, data_batch=data_batch)
            samples = self._features(data_batch)
            self.evaluator.process(data_samples=samples, data_batch=data_batch)
            runner.call_hook(f'after_{mode}_iter', batch_idx=idx, data_batch=data_batch,
                             outputs=samples)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        for metric in self.evaluator.metrics:
            if isinstance(metric, KNNAccuracy):
                metric.memory_bank = None
        runner.model.train(was_training)
        runner.call_hook(f'after_{mode}_epoch', metrics=metrics)
        runner.call_hook(f'after_{mode}')
        return metrics


@LOOPS.register_module()
class KNNTestLoop(_KNNLoopMixin, TestLoop):
    """``test_cfg`` loop computing :class:`KNNAccuracy` (see :class:`_KNNLoopMixin`)."""

    mode = 'test'


@LOOPS.register_module()
class KNNValLoop(_KNNLoopMixin, ValLoop):
    """``val_cfg`` loop: k-NN accuracy during (SSL) training, e.g. every N epochs."""

    mode = 'val'
