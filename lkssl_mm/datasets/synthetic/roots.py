"""Where the generated data lands, and the ``--cfg-options`` that point configs at it."""
from __future__ import annotations

from pathlib import Path

from .formats import FORMATS

#: Dataloaders of each kind of config that read generated data, by the task they read.
CONFIG_LOADERS = {
    'pretrain': ('cls', ('train_dataloader', 'val_dataloader', 'val_cfg.memory_dataloader')),
    'knn': ('cls', ('test_dataloader', 'test_cfg.memory_dataloader')),
    'linear': ('cls', ('train_dataloader', 'val_dataloader', 'test_dataloader')),
    'detection': ('det', ('train_dataloader', 'val_dataloader', 'test_dataloader')),
    'segmentation': ('seg', ('train_dataloader', 'val_dataloader', 'test_dataloader')),
}


def data_roots(out_dir: str | Path) -> dict[str, str]:
    """The ``data_root`` of each task under ``out_dir``.

    Args:
        out_dir: The folder given to ``generate``.
    """
    return {task: str(Path(out_dir) / fmt.folder) for task, fmt in FORMATS.items()}


def data_options(kind: str, out_dir: str | Path) -> list[str]:
    """``--cfg-options`` pointing a config of ``kind`` at the data generated in ``out_dir``.

    Args:
        kind: One of :data:`CONFIG_LOADERS` (``pretrain``, ``knn``, ``linear``,
            ``detection``, ``segmentation``): which dataloaders the config has.
        out_dir: The folder given to ``generate``.

    Raises:
        ValueError: For an unknown kind.
    """
    if kind not in CONFIG_LOADERS:
        raise ValueError(f'unknown config kind {kind!r}, expected one of {tuple(CONFIG_LOADERS)}')
    task, loaders = CONFIG_LOADERS[kind]
    root = data_roots(out_dir)[task]
    if task != 'det':
        return [f'{loader}.dataset.data_root={root}' for loader in loaders]
    # mmdet joins data_root and the image prefix by string concatenation
    ann = Path(root) / 'annotations' / 'instances_val2017.json'
    return [f'{loader}.dataset.data_root={root}/' for loader in loaders] + [
        f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
