"""DINO's multi-crop, split between the data loader (geometry) and the device (colour).

:class:`MultiCrop` does in the data loader what must see the whole image:
sample every view's crop box (torchvision's ``RandomResizedCrop`` rule, in the
original image's coordinates), decode the JPEG once at the coarsest DCT scale
that still gives every crop at least its output resolution (PIL's ``draft``),
resize each box (bicubic, antialiased) and flip. It also draws every view's
photometric parameters — colour jitter, grayscale, blur, solarisation, with
the probabilities and ranges of facebookresearch/dino ``main_dino.py``
``DataAugmentationDINO`` — and hands them over as ``photometric_params``;
:class:`lkssl_mm.models.MultiCropDataPreprocessor` applies them batched on
the training device. mmpretrain's ``MultiView`` with its numpy transforms does
it all per image in the data loader, about 9x slower per CPU core
(docs/speed.md, "Data loading").

All randomness is drawn here, from NumPy's global generator like mmcv's and
mmpretrain's transforms: mmengine seeds it per worker and rank, so runs repeat
with a seed, and workers and ranks draw different augmentations.
"""
import difflib
import math
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmengine.registry import TRANSFORMS
from PIL import ImageFile

from lkssl_mm.utils.photometric_params import JITTER_OPS, PHOTOMETRIC_PARAMS

from .loading import CorruptImageError

# The settings every view kind has; MultiCrop's arguments of the same names are
# the defaults, a view dict may override any of them.
VIEW_SETTINGS = ('crop_ratio_range', 'flip_prob', 'color_jitter', 'grayscale_prob', 'blur_prob',
                 'blur_sigma', 'solarize_prob', 'solarize_threshold')
VIEW_KEYS = ('num_views', 'size', 'crop_scale_range') + VIEW_SETTINGS
JITTER_KEYS = ('prob', ) + JITTER_OPS
INTERPOLATIONS = ('bicubic', 'bilinear')  # antialiased like Pillow's
DRAFT_SCALES = (8, 4, 2)  # libjpeg's DCT scalings that PIL's draft offers


def _check_keys(given: dict, allowed: Sequence[str], where: str) -> None:
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            raise KeyError(f'{where}: unknown key {key!r} (expected one of {list(allowed)}).'
                           f'{hint}')


def _jitter_range(value: Union[float, Sequence[float]], name: str) -> Tuple[float, float]:
    """Torchvision ColorJitter's range of a factor: ``c`` -> (1 - c, 1 + c), hue (-c, c)."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f'color_jitter.{name} must be >= 0, got {value}')
        low, high = (-value, value) if name == 'hue' else (max(0., 1 - value), 1 + value)
    else:
        low, high = value
    if name == 'hue' and not -0.5 <= low <= high <= 0.5:
        raise ValueError(f'color_jitter.hue must lie in [-0.5, 0.5], got {value}')
    if low > high:
        raise ValueError(f'color_jitter.{name}: empty range {value}')
    return float(low), float(high)


def sample_crop_box(width: int, height: int, scale: Tuple[float, float],
                    ratio: Tuple[float, float],
                    max_attempts: int = 10) -> Tuple[int, int, int, int]:
    """A random crop (x0, y0, w, h) by torchvision's ``RandomResizedCrop.get_params`` rule.

    Area uniform in ``scale`` times the image area, aspect ratio (w/h)
    log-uniform in ``ratio``, position uniform; after ``max_attempts`` misses
    the largest centred crop within ``ratio``.
    """
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(max_attempts):
        target_area = area * np.random.uniform(*scale)
        aspect = math.exp(np.random.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            y0 = np.random.randint(0, height - h + 1)
            x0 = np.random.randint(0, width - w + 1)
            return x0, y0, w, h
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def _decode(img, draft_size: Optional[Tuple[int, int]]) -> Tuple[torch.Tensor, float, bool]:
    """Decode for cropping: (1, 3, H, W) uint8, the scale it was decoded at, BGR or RGB.

    An undecoded JPEG is decoded at reduced DCT scale (PIL ``draft``) when
    ``draft_size`` allows. The tensor's memory is HWC (channels_last), the
    layout torch's fast uint8 resize wants.
    """
    if isinstance(img, np.ndarray):  # decoded by mmcv: BGR, or gray
        img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img
        return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None], 1., True
    scale = 1.
    if draft_size is not None and isinstance(img, ImageFile.ImageFile) and img.tile:
        width = img.size[0]
        drafted = img.draft('RGB', draft_size)  # JPEG only (None otherwise)
        if drafted is not None:
            scale = drafted[1][2] / width  # the box is the original size over the DCT scale
    img = img if img.mode == 'RGB' else img.convert('RGB')
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)[None], scale, False


def _resize_box(image: torch.Tensor, box: Tuple[int, int, int, int], scale: float,
                size: Tuple[int, int], interpolation: str) -> np.ndarray:
    """The crop ``box`` (x0, y0, w, h, original pixels) resized to ``size`` (h, w), HWC uint8.

    torch's antialiased uint8 resize of the crop: what the reference's PIL
    crop-then-resize computes, to +-2 levels, 4x faster than PIL. On an image
    decoded at ``scale`` < 1 the box's edges are rounded to its pixel grid,
    which moves each by at most half a decoded pixel (less than half an output
    pixel, as the crop is at least ``1 / scale`` times its output size).
    """
    x0, y0, w, h = box
    height, width = image.shape[-2:]
    left, top = min(round(x0 * scale), width - 1), min(round(y0 * scale), height - 1)
    right = min(max(round((x0 + w) * scale), left + 1), width)
    bottom = min(max(round((y0 + h) * scale), top + 1), height)
    crop = image[..., top:bottom, left:right]
    return F.interpolate(crop, size=size, mode=interpolation, antialias=True)[0].permute(
        1, 2, 0).numpy()


@TRANSFORMS.register_module()
class MultiCrop(BaseTransform):
    """Multi-crop views of one image (DINO), photometric parameters for the device.

    Each view kind is a dict with ``num_views``, ``size`` (output side, or
    (h, w)) and ``crop_scale_range`` (crop area as a fraction of the image),
    and may override any of the settings below for that kind. For DINO
    (facebookresearch/dino ``main_dino.py``, lines 419-464) the kinds are the
    first global view (blur p=1.0), the second (blur p=0.1, solarisation
    p=0.2) and the local views (blur p=0.5); see
    ``configs/_base_/datasets/imagenet_dino_multicrop.py``.

    Reads ``img``: a PIL image not decoded yet (``StrictLoadImageFromFile``
    with ``defer_decode=True``; JPEGs are then decoded at reduced scale when
    every crop allows it, the boxes still drawn in the original image, and a
    file that fails to decode is skipped or stops the run under the loader's
    ``max_skips``) or a decoded BGR array (mmcv's loaders).
    Writes ``img``: a list of uint8 BGR (H, W, 3) arrays, one per view, in the
    order of ``views``; ``photometric_params``: float32 (num views,
    len(PHOTOMETRIC_PARAMS)); ``crop_boxes``: (num views, 4) x0, y0, w, h in
    the original image's pixels; ``flipped``: bool per view; ``decode_scale``:
    the scale the image was decoded at (1, 1/2, 1/4 or 1/8).

    Args:
        views (list[dict]): The view kinds, in order.
        crop_ratio_range (tuple): Aspect ratio (w/h) range of the crops,
            log-uniform. Defaults to (3/4, 4/3).
        interpolation (str): 'bicubic' (default) or 'bilinear', antialiased
            as in Pillow.
        flip_prob (float): Horizontal flip probability. Defaults to 0.5.
        color_jitter (dict): ``prob`` and torchvision ColorJitter's
            ``brightness``, ``contrast``, ``saturation``, ``hue``. Defaults to
            DINO's ``dict(prob=0.8, brightness=0.4, contrast=0.4,
            saturation=0.2, hue=0.1)``.
        grayscale_prob (float): Defaults to 0.2.
        blur_prob (float): Gaussian blur probability. Defaults to 0.5.
        blur_sigma (tuple): Range of the blur's standard deviation (pixels,
            PIL's ``radius``), uniform. Defaults to (0.1, 2.0).
        solarize_prob (float): Defaults to 0.
        solarize_threshold (float): Values at or above it are inverted.
            Defaults to 128 (PIL's ``ImageOps.solarize``).
        draft (bool): Decode JPEGs at reduced scale (PIL ``draft``) when every
            crop of the image is at least twice its output size. Defaults to
            True.
    """

    def __init__(self,
                 views: List[dict],
                 crop_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bicubic',
                 flip_prob: float = 0.5,
                 color_jitter: dict = dict(
                     prob=0.8, brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1),
                 grayscale_prob: float = 0.2,
                 blur_prob: float = 0.5,
                 blur_sigma: Tuple[float, float] = (0.1, 2.0),
                 solarize_prob: float = 0.,
                 solarize_threshold: float = 128,
                 draft: bool = True):
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'MultiCrop: interpolation={interpolation!r}, expected one of '
                             f'{list(INTERPOLATIONS)}')
        if not views:
            raise ValueError('MultiCrop: views is empty; give at least one view kind')
        defaults = dict(crop_ratio_range=crop_ratio_range, flip_prob=flip_prob,
                        color_jitter=color_jitter, grayscale_prob=grayscale_prob,
                        blur_prob=blur_prob, blur_sigma=blur_sigma, solarize_prob=solarize_prob,
                        solarize_threshold=solarize_threshold)
        self.kinds = [self._view_kind(index, dict(defaults, **view))
                      for index, view in enumerate(views)]
        self.views = views
        self.interpolation = interpolation
        self.draft = draft

    @staticmethod
    def _view_kind(index: int, view: dict) -> dict:
        where = f'MultiCrop views[{index}]'
        _check_keys(view, VIEW_KEYS, where)
        for key in ('num_views', 'size', 'crop_scale_range'):
            if key not in view:
                raise KeyError(f'{where}: missing {key!r}')
        _check_keys(view['color_jitter'], JITTER_KEYS, f'{where}.color_jitter')
        size = view['size']
        size = (size, size) if isinstance(size, int) else tuple(size)
        low, high = view['crop_scale_range']
        if not 0 < low <= high <= 1:
            raise ValueError(f'{where}: crop_scale_range={view["crop_scale_range"]}, expected '
                             '0 < low <= high <= 1')
        for key in ('flip_prob', 'grayscale_prob', 'blur_prob', 'solarize_prob'):
            if not 0 <= view[key] <= 1:
                raise ValueError(f'{where}: {key}={view[key]} is not a probability')
        jitter = dict(view['color_jitter'])
        return dict(view, size=size, num_views=int(view['num_views']),
                    jitter_prob=float(jitter.get('prob', 1.)),
                    jitter_ranges=[_jitter_range(jitter.get(op, 0.), op) for op in JITTER_OPS])

    @property
    def view_kinds(self) -> List[dict]:
        """One entry per view (a kind repeated ``num_views`` times)."""
        return [kind for kind in self.kinds for _ in range(kind['num_views'])]

    @staticmethod
    def sample_photometric(kind: dict) -> np.ndarray:
        """One view's photometric parameters (row of ``PHOTOMETRIC_PARAMS``)."""
        rand = np.random.random
        params = dict.fromkeys(PHOTOMETRIC_PARAMS, 0.)
        params.update(brightness=1., contrast=1., saturation=1.)
        # torchvision's RandomApply draws its coin first, ColorJitter then the
        # order and the factors; RandomGrayscale, dino's GaussianBlur (applied
        # when random <= p) and Solarization follow, in this order
        if rand() < kind['jitter_prob']:
            params['jitter'] = 1.
            order = np.random.permutation(len(JITTER_OPS))
            params.update({f'order_{i}': float(op) for i, op in enumerate(order)})
            for op, (low, high) in zip(JITTER_OPS, kind['jitter_ranges']):
                params[op] = np.random.uniform(low, high)
        params['grayscale'] = float(rand() < kind['grayscale_prob'])
        if rand() <= kind['blur_prob']:
            params.update(blur=1., blur_sigma=np.random.uniform(*kind['blur_sigma']))
        if rand() < kind['solarize_prob']:
            params.update(solarize=1., solarize_threshold=kind['solarize_threshold'])
        return np.array([params[name] for name in PHOTOMETRIC_PARAMS], dtype=np.float32)

    def _draft_size(self, width: int, height: int, boxes: list) -> Optional[Tuple[int, int]]:
        """The decode size for the coarsest DCT scale that keeps every crop >= its output."""
        if not self.draft:
            return None
        for scale in DRAFT_SCALES:
            if all(w >= scale * kind['size'][1] and h >= scale * kind['size'][0]
                   for (_, _, w, h), kind in zip(boxes, self.view_kinds)):
                return math.ceil(width / scale), math.ceil(height / scale)
        return None

    def transform(self, results: dict) -> Optional[dict]:
        img = results['img']
        if isinstance(img, np.ndarray):
            height, width = img.shape[:2]
        else:
            width, height = img.size
        kinds = self.view_kinds
        boxes = [sample_crop_box(width, height, kind['crop_scale_range'],
                                 kind['crop_ratio_range']) for kind in kinds]
        flips = [bool(np.random.random() < kind['flip_prob']) for kind in kinds]
        params = np.stack([self.sample_photometric(kind) for kind in kinds])
        try:
            image, scale, bgr = _decode(img, self._draft_size(width, height, boxes))
        except (OSError, SyntaxError, ValueError) as error:
            corrupt = CorruptImageError(
                f'corrupt image {results.get("img_path")}: cannot be decoded ({error})')
            if 'on_corrupt_image' not in results:
                raise corrupt from error
            return results['on_corrupt_image'](corrupt)  # the loader's skip budget
        views = []
        channels = slice(None) if bgr else slice(None, None, -1)
        for box, kind, flip in zip(boxes, kinds, flips):
            crop = _resize_box(image, box, scale, kind['size'], self.interpolation)
            # to BGR (mmcv's order; the preprocessor's to_rgb turns it back) and
            # flipped, both as views: PackInputs makes the one copy
            views.append(crop[:, ::-1 if flip else 1, channels])
        results['img'] = views
        results['photometric_params'] = params
        results['crop_boxes'] = np.array(boxes, dtype=np.int64)
        results['flipped'] = np.array(flips)
        results['decode_scale'] = scale
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(views={self.views}, '
                f'interpolation={self.interpolation!r}, draft={self.draft})')
