"""What do a backbone's features encode? k-NN accuracy for the class and nuisance variables.

On the generated ImageNet-style data the colour of every image's largest object and its
number of objects are known (:func:`lkssl_mm.datasets.synthetic.cls_attributes`). A k-NN
classifier on the frozen features, asked to predict each of them instead of the class,
shows whether a self-supervised backbone learnt the shapes or a shortcut (docs/dino.md).

The features are those of the k-NN evaluation (:class:`KNNTestLoop` of a k-NN config:
same pipeline, same pooling, teacher backbone of SSL checkpoints); mmpretrain has no
such probe, hence this module.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from lkssl_mm.datasets.synthetic import CLS_ATTRIBUTES, cls_attributes, cls_file, load_meta
from lkssl_mm.evaluation.knn import knn_predict, stack_samples, topk_accuracy


def attribute_labels(data_root: str, split: str, dataset) -> Dict[str, torch.Tensor]:
    """Every attribute of every image of ``dataset`` (a split of the generated data).

    Args:
        data_root: Folder given to the generator (holds ``meta.json``).
        split: ``train`` or ``val``.
        dataset: The mmpretrain dataset of that split, in generator order.

    Raises:
        FileNotFoundError: ``data_root`` holds no generated classification data.
        ValueError: The dataset's images are not the generator's, in its order.
    """
    meta = load_meta(data_root)
    if meta is None or 'cls' not in meta.get('tasks', {}):
        raise FileNotFoundError(f'no generated classification data under {data_root} '
                                '(meta.json with a "cls" task; tools/data/make_synthetic.py)')
    params = meta['tasks']['cls']['params']
    labels: Dict[str, List[int]] = {name: [] for name in CLS_ATTRIBUTES}
    for index in range(len(dataset)):
        path = dataset.get_data_info(index)['img_path']
        if not path.replace(osp.sep, '/').endswith(f'{split}/{cls_file(split, index)}'):
            raise ValueError(f'image {index} of the {split} dataset is {path}, expected '
                             f'{split}/{cls_file(split, index)}: use the generated ann file '
                             f'meta/{split}.txt unchanged')
        for name, value in cls_attributes(params['seed'], split, index,
                                          params['img_size']).items():
            labels[name].append(value)
    return {name: torch.tensor(values) for name, values in labels.items()}


def knn_probe(cfg: Config, checkpoint: Optional[str], data_root: str,
              attributes: Sequence[str] = tuple(CLS_ATTRIBUTES), k: int = 20,
              temperature: float = 0.07) -> Dict[str, dict]:
    """k-NN top-1 accuracy (%) of the features for each attribute, with its chance level.

    Args:
        cfg: A k-NN config (``test_cfg.type='KNNTestLoop'``) whose data roots point at
            ``<data_root>/imagenet``, with ``work_dir`` set.
        checkpoint: Backbone, SSL or classifier checkpoint; None keeps the random init.
        data_root: Folder given to the generator.
        attributes: Keys of ``CLS_ATTRIBUTES`` to probe.
        k: Neighbours. Defaults to 20.
        temperature: Vote temperature. Defaults to 0.07.

    Returns:
        ``{attribute: {'top1': accuracy, 'chance': majority-value rate of the queries,
        'values': number of values}}``.
    """
    unknown = sorted(set(attributes) - set(CLS_ATTRIBUTES))
    if unknown:
        raise ValueError(f'attributes {unknown} unknown; expected some of {list(CLS_ATTRIBUTES)}')
    cfg = cfg.copy()
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    runner.model.eval()
    loop = runner.test_loop
    with torch.no_grad():
        train_features, _ = stack_samples(loop.extract_features(loop.memory_dataloader))
        test_features, _ = stack_samples(loop.extract_features(loop.dataloader))
    train_labels = attribute_labels(data_root, 'train', loop.memory_dataloader.dataset)
    test_labels = attribute_labels(data_root, 'val', loop.dataloader.dataset)
    results = {}
    for name in attributes:
        num_values = CLS_ATTRIBUTES[name]
        scores = knn_predict(train_features, train_labels[name], test_features, num_values, k,
                             temperature)
        counts = torch.bincount(test_labels[name], minlength=num_values)
        results[name] = dict(top1=round(topk_accuracy(scores, test_labels[name], 1), 2),
                             chance=round(float(counts.max()) / len(test_labels[name]) * 100, 2),
                             values=num_values)
    return results
