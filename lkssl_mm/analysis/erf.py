"""Effective receptive field (ERF) after RepLKNet's method.

For each input image, the gradient of the central pixel of a feature map
(ReLU, then summed over channels: a plain sum of a LayerNorm output is a
constant) with respect to the input is taken; its absolute value, summed over input
channels and averaged over images, is the ERF score map. The
*high-contribution area ratio* at threshold ``t`` is the area of the smallest
square around the score's centroid holding ``t`` of the total score, over the
image area: larger means a wider effective receptive field. (The centroid,
not the image centre, because the central output pixel of an even-sized
feature map looks at a point off the image centre.)
"""
from typing import Dict, Iterable, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_THRESHOLDS = (0.2, 0.3, 0.5, 0.99)


def _select_output(outputs, index: int) -> torch.Tensor:
    out = outputs[index] if isinstance(outputs, (tuple, list)) else outputs
    if out.dim() != 4:
        raise ValueError('ERF needs a spatial (N, C, H, W) feature map; build the backbone '
                         f'with gap_before_final_norm=False (got shape {tuple(out.shape)})')
    return out


def compute_erf(backbone: nn.Module, images: Iterable[torch.Tensor],
                out_index: int = -1) -> np.ndarray:
    """Average ERF score map of ``backbone`` over ``images``.

    Args:
        backbone (nn.Module): Returns a feature map or a tuple of them.
        images (Iterable[Tensor]): Normalised (C, H, W) or (1, C, H, W) images,
            all of one size.
        out_index (int): Which output of the backbone to use. Defaults to -1.

    Returns:
        np.ndarray: (H, W) mean absolute input gradient of the central output pixel.
    """
    was_training = backbone.training
    backbone.eval()
    total, count = None, 0
    try:
        for image in images:
            x = (image if image.dim() == 4 else image[None]).clone().requires_grad_(True)
            out = _select_output(backbone(x), out_index)
            h, w = out.shape[-2:]
            F.relu(out[:, :, h // 2, w // 2]).sum().backward()
            score = x.grad.abs().sum(dim=1)[0].detach().cpu().numpy().astype(np.float64)
            total = score if total is None else total + score
            count += 1
    finally:
        backbone.train(was_training)
    if count == 0:
        raise ValueError('compute_erf needs at least one image')
    return total / count


def high_contribution_area_ratio(erf: np.ndarray,
                                 thresholds: Sequence[float] = DEFAULT_THRESHOLDS
                                 ) -> Dict[str, float]:
    """Area ratio of the smallest square around the centroid holding each threshold.

    Args:
        erf (np.ndarray): (H, W) non-negative score map.
        thresholds (Sequence[float]): Fractions of the total score.

    Returns:
        dict: ``{'t20': ratio, ...}`` keyed by the threshold in percent.
    """
    h, w = erf.shape
    total = erf.sum()
    if total <= 0:
        raise ValueError('the ERF score map is all zeros')
    ys, xs = np.arange(h), np.arange(w)
    cy = int(round(float((erf.sum(1) * ys).sum() / total)))
    cx = int(round(float((erf.sum(0) * xs).sum() / total)))
    max_radius = max(cy, cx, h - 1 - cy, w - 1 - cx)
    sums = [erf[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1].sum() / total
            for r in range(max_radius + 1)]
    ratios = {}
    for t in thresholds:
        radius = next((r for r, s in enumerate(sums) if s >= t - 1e-12), max_radius)
        side_h = min(cy + radius + 1, h) - max(cy - radius, 0)
        side_w = min(cx + radius + 1, w) - max(cx - radius, 0)
        ratios[f't{int(round(t * 100))}'] = side_h * side_w / float(h * w)
    return ratios


def save_erf_heatmap(erf: np.ndarray, path: str, title: Optional[str] = None) -> None:
    """Save ``log10(1 + erf / max)`` as a heatmap PNG (RepLKNet's visualisation)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    data = np.log10(1 + erf / max(erf.max(), 1e-12) * 1e3)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    im = ax.imshow(data, cmap='RdYlGn', interpolation='nearest')
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
