"""ERF of a config's backbone, with optional checkpoint and image folder."""
import glob
import os.path as osp
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import Config
from PIL import Image

from lkssl_mm.utils.builder import build_model
from lkssl_mm.utils.ssl_checkpoint import check_backbone_checkpoint

from .erf import compute_erf, high_contribution_area_ratio, save_erf_heatmap

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def build_backbone(cfg: Config) -> torch.nn.Module:
    """``cfg.model.backbone`` as the ERF needs it: returning feature maps, not pooled vectors.

    An LKConvNeXt is built with ``gap_before_final_norm=False`` (its output norm
    then applies per position); ``cfg`` itself is not changed.
    """
    feature_maps = {}
    if cfg.model.backbone.get('type', '').endswith('LKConvNeXt'):
        feature_maps['gap_before_final_norm'] = False
    return build_model(cfg, 'backbone', **feature_maps)


def load_backbone_weights(backbone: torch.nn.Module, path: str, which: str = 'teacher') -> dict:
    """Load an SSL, converted or downstream checkpoint into ``backbone`` (checked).

    Returns:
        dict: ``source`` (the key prefix used) and the key report.
    """
    weights, report, prefix = check_backbone_checkpoint(path, backbone, which)
    backbone.load_state_dict(weights, strict=False)
    return dict(source=prefix, **report)


def load_images(image_dir: Optional[str], num_images: int, size: int, seed: int,
                mean=IMAGENET_MEAN, std=IMAGENET_STD) -> List[torch.Tensor]:
    """``num_images`` normalised (3, size, size) images, or Gaussian noise if no folder."""
    if image_dir is None:
        generator = torch.Generator().manual_seed(seed)
        return [torch.randn(3, size, size, generator=generator) for _ in range(num_images)]
    files = sorted(f for f in glob.glob(osp.join(image_dir, '**', '*'), recursive=True)
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise FileNotFoundError(f'no images ({", ".join(IMAGE_SUFFIXES)}) under {image_dir}')
    files = random.Random(seed).sample(files, min(num_images, len(files)))
    mean_t = torch.tensor(mean).view(3, 1, 1)
    std_t = torch.tensor(std).view(3, 1, 1)
    images = []
    for file in files:
        array = np.asarray(Image.open(file).convert('RGB').resize((size, size),
                                                                Image.BILINEAR))
        images.append((torch.from_numpy(array.copy()).permute(2, 0, 1).float() - mean_t) / std_t)
    return images


def erf_of_config(cfg: Config, checkpoint: Optional[str] = None, which: str = 'teacher',
                  image_dir: Optional[str] = None, num_images: int = 20, size: int = 224,
                  out_index: int = -1, seed: int = 0, heatmap: Optional[str] = None) -> dict:
    """Compute the ERF of a config's backbone.

    Args:
        cfg (Config): Any lkssl_mm config with ``model.backbone``.
        checkpoint (str, optional): Weights to load (random init otherwise).
        which (str): Backbone of an SSL checkpoint, 'teacher' or 'student'.
        image_dir (str, optional): Image folder; Gaussian noise if None.
        num_images (int): Images to average over.
        size (int): Input side.
        out_index (int): Backbone output to measure.
        seed (int): Seed of the image choice / noise.
        heatmap (str, optional): Where to save the heatmap PNG.

    Returns:
        dict: Area ratios (``t20``... ``t99``), inputs used, heatmap path.
    """
    torch.manual_seed(seed)
    backbone = build_backbone(cfg)
    loaded = load_backbone_weights(backbone, checkpoint, which) if checkpoint else None
    erf = compute_erf(backbone, load_images(image_dir, num_images, size, seed), out_index)
    if heatmap:
        title = osp.basename(checkpoint) if checkpoint else 'random init'
        save_erf_heatmap(erf, heatmap, title)
    return dict(area_ratio=high_contribution_area_ratio(erf), checkpoint=checkpoint,
                weights=loaded['source'] if loaded else 'random init',
                images=image_dir or 'gaussian noise', num_images=num_images, size=size,
                heatmap=heatmap)
