"""Checks run by ``tools/train.py`` / ``tools/test.py`` before anything starts.

mmengine reports a wrong data path when the first batch is loaded, a neck or
head that does not fit the backbone in the middle of the first iteration, and
a checkpoint of another model as a list of warnings (then trains on). These
checks turn each into one :class:`ConfigError` that names the config field or
file and what was expected, before the runner writes anything.
"""
import os.path as osp
from typing import Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config

from lkssl_mm.utils.builder import ConfigError, build_model
from lkssl_mm.utils.ssl_checkpoint import NotAnSSLCheckpoint, load_state_dict_file

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
NESTED_LOADERS = ('val_cfg.memory_dataloader', 'test_cfg.memory_dataloader')


# ----------------------------------------------------------------------------- data
def _get(cfg, dotted: str):
    """``cfg['a']['b']`` for ``'a.b'``, or None when a level is missing."""
    first, *rest = dotted.split('.')
    node = cfg.get(first)
    for part in rest:
        if not isinstance(node, dict) or node.get(part) is None:
            return None
        node = node[part]
    return node


def _datasets(node: dict, field: str) -> Iterator[Tuple[str, dict]]:
    """(field path, dataset cfg) of a dataset config and any datasets it wraps."""
    if not isinstance(node, dict):
        return
    yield field, node
    if isinstance(node.get('dataset'), dict):
        yield from _datasets(node['dataset'], f'{field}.dataset')
    for i, sub in enumerate(node.get('datasets') or []):
        yield from _datasets(sub, f'{field}.datasets.{i}')


def check_data_paths(cfg: Config) -> None:
    """Every dataloader's ``data_root``, ``ann_file`` and ``data_prefix`` must exist.

    Raises:
        ConfigError: Naming the field and the missing path.
    """
    for loader in LOADERS + NESTED_LOADERS:
        dataloader = _get(cfg, loader)
        if not isinstance(dataloader, dict) or 'dataset' not in dataloader:
            continue
        for field, dataset in _datasets(dataloader['dataset'], f'{loader}.dataset'):
            root = dataset.get('data_root') or ''
            if root and not osp.isdir(root):
                raise ConfigError(f'{field}.data_root: folder {root!r} does not exist '
                                  f'(expected the {dataset.get("type", "dataset")} folder)')
            ann_file = dataset.get('ann_file')
            if ann_file and not osp.isfile(osp.join(root, ann_file)):
                raise ConfigError(f'{field}.ann_file: {osp.join(root, ann_file)!r} does not '
                                  'exist (expected the annotation file)')
            prefixes = dataset.get('data_prefix')
            values = prefixes.items() if isinstance(prefixes, dict) else \
                [('', prefixes)] if prefixes else []
            for key, prefix in values:
                path = osp.join(root, prefix)
                if prefix and not osp.isdir(path):
                    name = f'{field}.data_prefix' + (f'.{key}' if key else '')
                    raise ConfigError(f'{name}: folder {path!r} does not exist')


# ----------------------------------------------------------------------------- model
def _feature_channels(feats) -> List[int]:
    feats = feats if isinstance(feats, (list, tuple)) else [feats]
    return [int(f.shape[1]) for f in feats if isinstance(f, torch.Tensor)]


def _try(part: str, func, feats):
    try:
        return func()
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise ConfigError(
            f'model.{part} does not accept the backbone features (channels '
            f'{_feature_channels(feats)}): {first}. Check model.{part}.in_channels '
            '(or in_index / input_features).') from error


@torch.no_grad()
def check_model_shapes(model: torch.nn.Module, image_size: int = 64) -> None:
    """Run the backbone on a dummy image and feed its features to the neck and heads.

    Covers SSL necks (DINO, MoCo, BYOL), classifier necks/heads, mmseg decode and
    auxiliary heads and mmdet RPN heads: the parts whose ``in_channels`` must
    match the backbone.

    Raises:
        ConfigError: Naming the part whose input does not fit.
    """
    backbone = getattr(model, 'backbone', None)
    if backbone is None:
        return
    was_training = model.training
    model.eval()
    try:
        feats = backbone(torch.zeros(2, 3, image_size, image_size))
        neck = getattr(model, 'neck', None)
        if neck is not None:
            feats = _try('neck', lambda: neck(feats), feats)
        for name in ('decode_head', 'auxiliary_head', 'rpn_head'):
            head = getattr(model, name, None)
            if head is not None:
                heads = head if isinstance(head, torch.nn.ModuleList) else [head]
                for h in heads:
                    _try(name, lambda h=h: h(feats), feats)
        head = getattr(model, 'head', None)
        if head is not None and hasattr(head, 'pre_logits') and hasattr(head, 'fc'):
            _try('head', lambda: head(feats), feats)
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------- checkpoints
def check_checkpoint_fits(path: str, model: torch.nn.Module, field: str,
                          strict: bool) -> None:
    """Check that ``path`` is a readable checkpoint of ``model``.

    Args:
        path (str): Checkpoint file.
        model (nn.Module): The config's model.
        field (str): How the checkpoint was given ('--resume', 'load_from').
        strict (bool): Require every model weight (resume); otherwise require
            no shape mismatch and at least half of the model's weights.

    Raises:
        ConfigError: Naming the file and what does not fit.
    """
    try:
        state_dict = load_state_dict_file(path)
    except (NotAnSSLCheckpoint, OSError) as error:
        raise ConfigError(f'{field}: {error}') from error
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    mismatched = [f'{k}: {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}'
                  for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    too_few = len(missing) > len(own) / 2
    if mismatched or (strict and missing) or too_few:
        raise ConfigError(
            f'{field}: {path} is not a checkpoint of this model '
            f'({type(model).__name__}): {len(missing)} of {len(own)} weights missing '
            f'(e.g. {missing[:3]}), {len(mismatched)} shape mismatches (e.g. {mismatched[:2]})')


def resolve_resume(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` (alone) continues from, or None if there is none.

    ``last_checkpoint`` names it; if that file is missing or names a file that
    is gone, the newest ``*.pth`` in the work dir is used.
    """
    import glob
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            path = f.read().strip()
        if osp.isfile(path):
            return path
    candidates = sorted(glob.glob(osp.join(work_dir, '*.pth')), key=osp.getmtime)
    return candidates[-1] if candidates else None


def preflight(cfg: Config, resume: Optional[str] = None, check_data: bool = True) -> None:
    """All checks for a run of ``cfg`` (see the module docstring).

    Args:
        cfg (Config): The final config (after command-line options).
        resume (str, optional): Checkpoint a resume will load.
        check_data (bool): Check the dataloaders' paths.

    Raises:
        ConfigError: On the first problem found.
    """
    if check_data:
        check_data_paths(cfg)
    model = build_model(cfg)
    check_model_shapes(model)
    if resume:
        check_checkpoint_fits(resume, model, '--resume', strict=True)
    elif cfg.get('load_from'):
        check_checkpoint_fits(cfg.load_from, model, 'load_from', strict=False)
