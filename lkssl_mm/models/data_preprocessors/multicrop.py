"""Multi-crop colour augmentation on the training device, batched."""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from lkssl_mm.utils.photometric_params import JITTER_OPS, PHOTOMETRIC_PARAMS

from . import photometric

PARAMS_KEY = 'photometric_params'
_COLUMN = {name: index for index, name in enumerate(PHOTOMETRIC_PARAMS)}
_JITTER_FNS = dict(brightness=photometric.adjust_brightness,
                   contrast=photometric.adjust_contrast,
                   saturation=photometric.adjust_saturation,
                   hue=photometric.adjust_hue)


def photometric_steps(params: torch.Tensor) -> List[Tuple[str, torch.Tensor, torch.Tensor]]:
    """The ops to run on a batch of views, in order, from their parameters.

    Args:
        params (Tensor): (N, len(PHOTOMETRIC_PARAMS)) on the CPU, one row per
            view (:class:`lkssl_mm.datasets.MultiCrop` draws them).

    Returns:
        list[tuple]: (op name, indices of the views it applies to, their
        parameter), for the four colour-jitter positions, then grayscale,
        blur and solarisation; ops that apply to no view are left out.
    """
    column = {name: params[:, index] for name, index in _COLUMN.items()}
    steps = []
    jitter = column['jitter'] > 0
    for position in range(len(JITTER_OPS)):
        for op_index, op in enumerate(JITTER_OPS):
            steps.append((op, jitter & (column[f'order_{position}'] == op_index), column[op]))
    steps += [('grayscale', column['grayscale'] > 0, column['grayscale']),
              ('blur', column['blur'] > 0, column['blur_sigma']),
              ('solarize', column['solarize'] > 0, column['solarize_threshold'])]
    return [(op, mask.nonzero()[:, 0], values[mask]) for op, mask, values in steps
            if mask.any()]


def apply_photometric(imgs: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Colour jitter, grayscale, blur and solarisation, per view as ``params`` say.

    Args:
        imgs (Tensor): (N, 3, H, W) float RGB in [0, 255], on any device.
        params (Tensor): (N, len(PHOTOMETRIC_PARAMS)) on the CPU.

    Returns:
        Tensor: The augmented images (``imgs`` may be overwritten).
    """
    steps = photometric_steps(params)
    if not steps:
        return imgs
    # every op's indices and values reach the device in two copies, and their
    # sizes are known here: no device synchronisation in the loop below
    sizes = [len(index) for _, index, _ in steps]
    indices = torch.cat([index for _, index, _ in steps])
    values = torch.cat([value for _, _, value in steps])
    if imgs.device.type != 'cpu':
        indices = indices.pin_memory().to(imgs.device, non_blocking=True)
        values = values.pin_memory().to(imgs.device, non_blocking=True)
    for (op, cpu_index, cpu_values), index, value in zip(
            steps, indices.split(sizes), values.split(sizes)):
        everything = len(cpu_index) == len(imgs)
        selected = imgs if everything else imgs.index_select(0, index)
        if op == 'grayscale':
            selected = photometric.to_grayscale(selected)
        elif op == 'blur':
            selected = photometric.gaussian_blur(selected, value, float(cpu_values.max()))
        elif op == 'solarize':
            selected = photometric.solarize(selected, value)
        else:
            selected = _JITTER_FNS[op](selected, value)
        imgs = selected if everything else imgs.index_copy_(0, index, selected)
    return imgs


@MODELS.register_module()
class MultiCropDataPreprocessor(SelfSupDataPreprocessor):
    """Applies multi-crop's colour augmentation to the views, batched, then normalises.

    In training, ``inputs`` are the views of :class:`lkssl_mm.datasets.MultiCrop`
    (a list of uint8 (B, 3, H, W) batches, BGR) and every data sample carries
    the views' ``photometric_params``. The views go to the device as uint8,
    are converted to float RGB, and views of one size are augmented together:
    colour jitter, grayscale, Gaussian blur and solarisation with each view's
    own parameters (:mod:`.photometric`), then normalised. On a CPU run the
    same code runs on the CPU. Outside training (k-NN monitor, evaluation) it
    is mmpretrain's ``SelfSupDataPreprocessor``: channel order and
    normalisation only.

    mmpretrain's preprocessors do not augment; this one exists because the
    photometric part of DINO's multi-crop costs the data loader most of its
    time per image when done per image on the CPU (docs/speed.md).

    Args:
        mean (Sequence[float]): Per-channel mean (RGB, 0-255 scale).
        std (Sequence[float]): Per-channel standard deviation.
        to_rgb (bool): Turn the BGR inputs to RGB first. Defaults to True.
        non_blocking (bool): Copy to the device asynchronously (with the
            data loader's ``pin_memory=True``). Defaults to True.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], to_rgb: bool = True,
                 non_blocking: bool = True):
        super().__init__(mean=mean, std=std, to_rgb=to_rgb, non_blocking=non_blocking)

    def _params(self, data_samples: list, num_views: int) -> torch.Tensor:
        """(B, num_views, len(PHOTOMETRIC_PARAMS)) parameters, on the CPU."""
        if not data_samples or PARAMS_KEY not in data_samples[0]:
            raise KeyError(
                f'{type(self).__name__}: the data samples have no {PARAMS_KEY!r}; the pipeline '
                f"needs MultiCrop and PackInputs(algorithm_keys=['{PARAMS_KEY}'])")
        params = torch.from_numpy(np.stack([
            np.asarray(sample.get(PARAMS_KEY), dtype=np.float32) for sample in data_samples]))
        expected = (len(data_samples), num_views, len(PHOTOMETRIC_PARAMS))
        if tuple(params.shape) != expected:
            raise ValueError(f'{type(self).__name__}: {PARAMS_KEY} of shape '
                             f'{tuple(params.shape)}, expected {expected} (batch, views, '
                             'parameters)')
        return params

    def forward(self, data: dict, training: bool = False) -> Dict[str, object]:
        """Augment (in training) and normalise a batch of multi-crop views."""
        if not training:
            return super().forward(data, training)
        views, data_samples = data['inputs'], data.get('data_samples')
        if not isinstance(views, (list, tuple)):
            raise TypeError(f'{type(self).__name__} augments multi-crop views: inputs must be '
                            f'a list of (B, 3, H, W) batches, got {type(views).__name__}')
        params = self._params(data_samples, len(views))
        scale = 1 / self.std  # normalisation in one pass: x * scale + shift
        shift = -self.mean * scale
        outputs = [None] * len(views)
        start = 0
        while start < len(views):  # runs of views of one size, one batch each
            stop = start + 1
            while stop < len(views) and views[stop].shape == views[start].shape:
                stop += 1
            imgs = torch.cat([self.cast_data(view) for view in views[start:stop]])
            if self._channel_conversion:
                imgs = imgs[:, [2, 1, 0]]
            group_params = params[:, start:stop].transpose(0, 1).reshape(
                -1, len(PHOTOMETRIC_PARAMS))
            imgs = apply_photometric(imgs.float(), group_params)
            outputs[start:stop] = torch.addcmul(shift, imgs, scale).chunk(stop - start)
            start = stop
        return {'inputs': outputs, 'data_samples': self.cast_data(data_samples)}
