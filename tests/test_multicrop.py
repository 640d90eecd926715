"""DINO multi-crop (MultiCrop + MultiCropDataPreprocessor) against the reference.

The reference is facebookresearch/dino ``main_dino.py`` ``DataAugmentationDINO``
(lines 419-464) with ``utils.py`` ``GaussianBlur`` / ``Solarization``: torchvision
transforms on PIL images. Crop boxes and colour-jitter factors are compared
with torchvision's own samplers over many draws (two-sample Kolmogorov-Smirnov
at alpha = 0.001), probabilities with binomial bounds, the colour ops with
torchvision / PIL applied to the same parameters.
"""
import io
import itertools
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import TRANSFORMS, init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from PIL import Image, ImageDraw, ImageFilter, ImageOps

import lkssl_mm  # noqa: F401
from lkssl_mm.datasets.transforms import (
    PHOTOMETRIC_PARAMS,
    CorruptImageError,
    MultiCrop,
    StrictLoadImageFromFile,
    sample_crop_box,
)
from lkssl_mm.models.data_preprocessors import apply_photometric, photometric

from .conftest import ROOT, run_tool

IMAGENET = 'configs/_base_/datasets/imagenet_dino_multicrop.py'
PREVIOUS = 'configs/_base_/datasets/imagenet_dino_multicrop_mmpretrain.py'
SYNTHETIC = 'configs/_base_/datasets/synthetic_dino_multicrop.py'
COLUMN = {name: index for index, name in enumerate(PHOTOMETRIC_PARAMS)}
# main_dino.py: per view kind (first global, second global, local) the blur and
# solarisation probabilities; flip 0.5, jitter 0.8, grayscale 0.2 for all
DINO_BLUR = (1.0, 0.1, 0.5)
DINO_SOLARIZE = (0.0, 0.2, 0.0)
KS_C = 1.95  # Kolmogorov-Smirnov critical coefficient at alpha = 0.001


def ks_two_sample(a, b) -> float:
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    grid = np.concatenate([a, b])
    return np.abs(np.searchsorted(a, grid, 'right') / len(a)
                  - np.searchsorted(b, grid, 'right') / len(b)).max()


def assert_same_distribution(a, b, what):
    limit = KS_C * np.sqrt((len(a) + len(b)) / (len(a) * len(b)))
    assert ks_two_sample(a, b) < limit, what


def assert_uniform(values, low, high, what):
    values = np.sort(np.asarray(values, float))
    assert low <= values.min() and values.max() <= high, what
    ecdf = np.arange(1, len(values) + 1) / len(values)
    assert np.abs(ecdf - (values - low) / (high - low)).max() < KS_C / np.sqrt(len(values)), what
    assert values.min() < low + 0.01 * (high - low) and values.max() > high - 0.01 * (high - low)


def assert_probability(flags, p, what):
    flags = np.asarray(flags, float)
    bound = 5 * np.sqrt(p * (1 - p) / len(flags)) + 1e-9
    assert abs(flags.mean() - p) <= bound, f'{what}: {flags.mean():.4f} vs {p}'


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth colour image with edges (gradients, shapes, mild noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((6, 8, 3)) * 255
    img = Image.fromarray(coarse.astype(np.uint8)).resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        box = (x0, y0, x0 + rng.integers(5, width // 2), y0 + rng.integers(5, height // 2))
        draw.ellipse(box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    noisy = np.asarray(img).astype(int) + rng.integers(-6, 7, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def write_jpeg(path, width=500, height=375, seed=0):
    photo_like(width, height, seed).save(path, quality=90)
    return str(path)


@pytest.fixture
def one_thread():
    """As in a data-loader worker (and faster on a busy machine for per-image work)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def dino_cfg():
    init_default_scope('mmpretrain')
    return Config.fromfile(str(ROOT / IMAGENET))


@pytest.fixture(scope='module')
def multicrop(dino_cfg) -> MultiCrop:
    return TRANSFORMS.build(dino_cfg.train_pipeline[1])


def test_every_dino_config_uses_multicrop_and_its_preprocessor():
    configs = sorted((ROOT / 'configs' / 'dino').glob('dino_*.py')) + sorted(
        (ROOT / 'configs' / 'demo').glob('dino_*.py'))
    assert len(configs) >= 15
    for path in configs:
        cfg = Config.fromfile(str(path))
        pipeline = [step['type'] for step in cfg.train_dataloader.dataset.pipeline]
        assert pipeline == ['StrictLoadImageFromFile', 'MultiCrop', 'PackInputs'], path.name
        # the Runner sets the top-level data_preprocessor on a model without one
        assert cfg.data_preprocessor.type == 'MultiCropDataPreprocessor', path.name
        assert 'data_preprocessor' not in cfg.model, path.name
    for former in (PREVIOUS, 'configs/_base_/datasets/synthetic_dino_multicrop_mmpretrain.py'):
        cfg = Config.fromfile(str(ROOT / former))
        assert [step['type'] for step in cfg.train_dataloader.dataset.pipeline] == [
            'StrictLoadImageFromFile', 'MultiView', 'PackInputs']
        assert cfg.data_preprocessor == dict(type='SelfSupDataPreprocessor', to_rgb=True,
                                             mean=[123.675, 116.28, 103.53],
                                             std=[58.395, 57.12, 57.375])


# ----------------------------------------------------------------------------- geometry
@pytest.mark.parametrize('scale', [(0.4, 1.), (0.05, 0.4)])
def test_crop_boxes_follow_torchvision_random_resized_crop(scale):
    width, height, n = 500, 375, 4000
    np.random.seed(0)
    torch.manual_seed(0)
    ratio = (3 / 4, 4 / 3)
    ours = np.array([sample_crop_box(width, height, scale, ratio) for _ in range(n)])
    image = torch.empty(3, height, width)
    theirs = np.array([T.RandomResizedCrop.get_params(image, list(scale), list(ratio))
                       for _ in range(n)])[:, [1, 0, 3, 2]]  # (i, j, h, w) -> (x, y, w, h)
    for name, stat in [('area', lambda b: b[:, 2] * b[:, 3] / (width * height)),
                       ('log aspect', lambda b: np.log(b[:, 2] / b[:, 3])),
                       ('centre x', lambda b: (b[:, 0] + b[:, 2] / 2) / width),
                       ('centre y', lambda b: (b[:, 1] + b[:, 3] / 2) / height)]:
        assert_same_distribution(stat(ours), stat(theirs), name)
    area = ours[:, 2] * ours[:, 3] / (width * height)
    assert area.min() >= scale[0] - 0.01 and area.max() <= scale[1] + 0.01
    assert (ours[:, :2] >= 0).all() and (ours[:, 0] + ours[:, 2] <= width).all()
    assert (ours[:, 1] + ours[:, 3] <= height).all()


def test_crop_falls_back_to_torchvision_centre_crop():
    # no crop of 50-100 % of a 1000x10 image has an aspect ratio in [3/4, 4/3]
    image = torch.empty(3, 10, 1000)
    i, j, h, w = T.RandomResizedCrop.get_params(image, [0.5, 1.], [3 / 4, 4 / 3])
    assert sample_crop_box(1000, 10, (0.5, 1.), (3 / 4, 4 / 3)) == (j, i, w, h)


def test_views_come_in_order_with_dino_shapes_flips_and_scales(multicrop, tmp_path, one_thread):
    path = write_jpeg(tmp_path / 'a.jpg')
    load = StrictLoadImageFromFile(defer_decode=True)
    np.random.seed(0)
    runs = [multicrop(load(dict(img_path=path))) for _ in range(150)]
    first = runs[0]
    assert [v.shape for v in first['img']] == [(224, 224, 3)] * 2 + [(96, 96, 3)] * 8
    assert all(v.dtype == np.uint8 for v in first['img'])
    flips = np.concatenate([r['flipped'] for r in runs])
    assert_probability(flips, 0.5, 'flip')
    boxes = np.stack([r['crop_boxes'] for r in runs])  # (runs, views, 4)
    area = boxes[..., 2] * boxes[..., 3] / (500 * 375)
    assert area[:, :2].min() >= 0.39 and area[:, 2:].max() <= 0.41
    params = np.stack([r['photometric_params'] for r in runs])  # (runs, views, P)
    kinds = [0, 1] + [2] * 8
    for view, kind in enumerate(kinds):
        assert_probability(params[:, view, COLUMN['blur']], DINO_BLUR[kind], f'blur {view}')
        assert_probability(params[:, view, COLUMN['solarize']], DINO_SOLARIZE[kind],
                           f'solarize {view}')


def test_a_flipped_view_is_the_mirrored_crop(tmp_path):
    img = np.asarray(photo_like(200, 150))[..., ::-1]  # BGR, as mmcv decodes
    views = [dict(num_views=2, size=64, crop_scale_range=(0.3, 1.))]
    out = []
    for flip_prob in (0., 1.):
        np.random.seed(3)
        out.append(MultiCrop(views, flip_prob=flip_prob)(dict(img=img)))
    plain, flipped = out
    np.testing.assert_array_equal(plain['crop_boxes'], flipped['crop_boxes'])
    np.testing.assert_array_equal(plain['photometric_params'], flipped['photometric_params'])
    for a, b in zip(plain['img'], flipped['img']):
        np.testing.assert_array_equal(a[:, ::-1], b)
    # the crop itself: torch's antialiased resize of the box = PIL crop + resize, +-2
    x, y, w, h = plain['crop_boxes'][0]
    pil = Image.fromarray(np.ascontiguousarray(img[..., ::-1])).crop((x, y, x + w, y + h))
    expected = np.asarray(pil.resize((64, 64), Image.BICUBIC))[..., ::-1].astype(int)
    assert np.abs(plain['img'][0].astype(int) - expected).max() <= 2


def test_draft_decoding_keeps_the_crop_and_its_content(tmp_path):
    path = write_jpeg(tmp_path / 'big.jpg', 1600, 1200)
    views = [dict(num_views=3, size=96, crop_scale_range=(0.4, 1.))]
    load = StrictLoadImageFromFile(defer_decode=True)
    out = {}
    for draft in (True, False):
        np.random.seed(1)
        out[draft] = MultiCrop(views, draft=draft)(load(dict(img_path=path)))
    assert out[True]['decode_scale'] < 1 and out[False]['decode_scale'] == 1
    np.testing.assert_array_equal(out[True]['crop_boxes'], out[False]['crop_boxes'])
    np.testing.assert_array_equal(out[True]['photometric_params'],
                                  out[False]['photometric_params'])
    for a, b in zip(out[True]['img'], out[False]['img']):
        assert np.abs(a.astype(float) - b.astype(float)).mean() < 2.0


# ----------------------------------------------------------------------------- parameters
def test_photometric_parameters_follow_dino_and_torchvision(multicrop):
    np.random.seed(0)
    torch.manual_seed(0)
    n = 6000
    jitter = T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)
    reference = np.array([[float(v) for v in jitter.get_params(
        jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)[1:]]
        for _ in range(n)])
    ranges = dict(brightness=(0.6, 1.4), contrast=(0.6, 1.4), saturation=(0.8, 1.2),
                  hue=(-0.1, 0.1))
    for kind, blur_p, solarize_p in zip(multicrop.kinds, DINO_BLUR, DINO_SOLARIZE):
        params = np.stack([multicrop.sample_photometric(kind) for _ in range(n)])
        column = {name: params[:, index] for name, index in COLUMN.items()}
        assert_probability(column['jitter'], 0.8, 'colour jitter')
        assert_probability(column['grayscale'], 0.2, 'grayscale')
        assert_probability(column['blur'], blur_p, 'blur')
        assert_probability(column['solarize'], solarize_p, 'solarisation')
        applied = column['jitter'] > 0
        for index, (op, (low, high)) in enumerate(ranges.items()):
            assert_uniform(column[op][applied], low, high, op)
            assert_same_distribution(column[op][applied], reference[:, index], op)
        orders = params[applied][:, [COLUMN[f'order_{i}'] for i in range(4)]].astype(int)
        counts = {perm: 0 for perm in itertools.permutations(range(4))}
        for order in map(tuple, orders):
            counts[order] += 1
        expected = len(orders) / 24
        chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
        assert chi2 < 49.7, 'jitter order not uniform over the 24 permutations'  # p=0.001
        blurred = column['blur'] > 0
        assert_uniform(column['blur_sigma'][blurred], 0.1, 2.0, 'blur sigma')
        assert (column['blur_sigma'][~blurred] == 0).all()
        assert (column['solarize_threshold'][column['solarize'] > 0] == 128).all()


# ----------------------------------------------------------------------------- colour ops
def reference_colour(pil: Image.Image, row: np.ndarray) -> np.ndarray:
    """The reference's ops (torchvision functional on PIL, PIL filters) with fixed parameters."""
    p = {name: row[index] for name, index in COLUMN.items()}
    if p['jitter']:
        fns = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
        values = [p['brightness'], p['contrast'], p['saturation'], p['hue']]
        for position in range(4):
            op = int(p[f'order_{position}'])
            pil = fns[op](pil, float(values[op]))
    if p['grayscale']:
        pil = TF.rgb_to_grayscale(pil, num_output_channels=3)
    if p['blur']:
        pil = pil.filter(ImageFilter.GaussianBlur(radius=float(p['blur_sigma'])))
    if p['solarize']:
        pil = ImageOps.solarize(pil, int(p['solarize_threshold']))
    return np.asarray(pil).astype(float)


def test_colour_ops_equal_the_reference_given_the_same_parameters(multicrop):
    np.random.seed(0)
    kinds = multicrop.kinds
    rows = np.stack([multicrop.sample_photometric(kinds[i % 3]) for i in range(48)])
    rows[:24, COLUMN['jitter']] = 1  # every jitter order at least once
    for i, order in enumerate(itertools.permutations(range(4))):
        rows[i, [COLUMN[f'order_{k}'] for k in range(4)]] = order
    rows[40:44, COLUMN['solarize']], rows[40:44, COLUMN['solarize_threshold']] = 1, 128
    pils = [photo_like(96, 80, seed) for seed in range(len(rows))]
    imgs = torch.stack([torch.from_numpy(np.asarray(p)).permute(2, 0, 1) for p in pils]).float()
    ours = apply_photometric(imgs.clone(), torch.from_numpy(rows)).permute(0, 2, 3, 1).numpy()
    for i, (pil, row) in enumerate(zip(pils, rows)):
        diff = np.abs(ours[i] - reference_colour(pil, row))
        # PIL truncates to uint8 after every op (and H, S, V inside the hue op),
        # up to a level per op in a chain of up to six; the float ops do not
        assert diff.mean() < 2.0 and np.percentile(diff, 99) < 8, (i, row, diff.mean())


@pytest.mark.parametrize('op, value, pil_op, mean_limit, p99_limit', [
    ('adjust_brightness', 1.35, lambda im, v: TF.adjust_brightness(im, v), 0.6, 1.5),
    ('adjust_contrast', 0.65, lambda im, v: TF.adjust_contrast(im, v), 0.6, 1.5),
    ('adjust_saturation', 1.15, lambda im, v: TF.adjust_saturation(im, v), 0.6, 1.5),
    ('adjust_hue', 0.08, lambda im, v: TF.adjust_hue(im, v), 0.7, 5),
    ('to_grayscale', None, lambda im, v: TF.rgb_to_grayscale(im, 3), 0.6, 1.5),
    ('gaussian_blur', 1.7, lambda im, v: im.filter(ImageFilter.GaussianBlur(v)), 0.6, 3),
    ('solarize', 128, lambda im, v: ImageOps.solarize(im, v), 0.01, 0),
])
def test_each_colour_op_equals_pil_on_the_same_image(op, value, pil_op, mean_limit, p99_limit):
    pil = photo_like(96, 80, seed=5)
    imgs = torch.from_numpy(np.array(pil)).permute(2, 0, 1)[None].float()
    fn = getattr(photometric, op)
    if op == 'to_grayscale':
        ours = fn(imgs)
    elif op == 'gaussian_blur':
        ours = fn(imgs, torch.tensor([value]), value)
    else:
        ours = fn(imgs, torch.tensor([float(value)]))
    diff = np.abs(ours[0].permute(1, 2, 0).numpy() - np.asarray(pil_op(pil, value)))
    assert diff.mean() < mean_limit and np.percentile(diff, 99) <= p99_limit, diff.mean()


def test_each_colour_op_equals_torchvision_per_sample():
    gen = torch.Generator().manual_seed(0)
    imgs = torch.rand(6, 3, 20, 24, generator=gen) * 255
    factors = torch.rand(6, generator=gen) * 0.8 + 0.6
    shifts = torch.rand(6, generator=gen) * 0.2 - 0.1
    for i in range(6):
        x = imgs[i] / 255
        torch.testing.assert_close(photometric.adjust_brightness(imgs, factors)[i] / 255,
                                   TF.adjust_brightness(x, float(factors[i])))
        truncated = int(float(shifts[i]) * 255) / 255
        torch.testing.assert_close(photometric.adjust_hue(imgs, shifts)[i] / 255,
                                   TF.adjust_hue(x, truncated), atol=2e-5, rtol=0)
    thresholds = torch.full((6, ), 128.)
    expected = TF.solarize(imgs.round().to(torch.uint8), 128).float()
    torch.testing.assert_close(photometric.solarize(imgs.round(), thresholds), expected)
    # the blur is a normalised Gaussian with sigma = PIL's radius, edges repeated
    flat = torch.full((1, 3, 9, 9), 77.)
    torch.testing.assert_close(photometric.gaussian_blur(flat, torch.tensor([1.3]), 2.),
                               flat)
    impulse = torch.zeros(1, 3, 31, 31)
    impulse[..., 15, 15] = 1000.
    blurred = photometric.gaussian_blur(impulse, torch.tensor([1.5]), 2.)[0, 0]
    coords = torch.arange(31.) - 15
    variance = (blurred.sum(0) * coords ** 2).sum() / blurred.sum()
    assert abs(variance.item() - 1.5 ** 2) < 0.01


# ----------------------------------------------------------------------------- preprocessor
def run_pipeline(config: str, paths):
    cfg = Config.fromfile(str(ROOT / config))
    pipeline = Compose(cfg.train_pipeline)
    batch = default_collate([pipeline(dict(img_path=p, sample_idx=i))
                             for i, p in enumerate(paths)])
    return batch, MODELS.build(cfg.data_preprocessor)


def test_model_gets_the_same_shapes_and_dtypes_as_with_the_previous_pipeline(tmp_path):
    init_default_scope('mmpretrain')
    paths = [write_jpeg(tmp_path / f'{i}.jpg', seed=i) for i in range(2)]
    outputs = {}
    for config in (IMAGENET, PREVIOUS):
        batch, preprocessor = run_pipeline(config, paths)
        assert [v.dtype for v in batch['inputs']] == [torch.uint8] * 10
        outputs[config] = preprocessor(batch, True)['inputs']
    new, old = outputs[IMAGENET], outputs[PREVIOUS]
    assert [(v.shape, v.dtype) for v in new] == [(v.shape, v.dtype) for v in old]
    assert [tuple(v.shape) for v in new] == [(2, 3, 224, 224)] * 2 + [(2, 3, 96, 96)] * 8
    # normalised like the previous pipeline: comparable statistics
    new_stats = torch.stack([torch.stack([v.mean(), v.std()]) for v in new]).mean(0)
    old_stats = torch.stack([torch.stack([v.mean(), v.std()]) for v in old]).mean(0)
    assert torch.allclose(new_stats, old_stats, atol=0.35)
    # outside training: SelfSupDataPreprocessor's channel swap and normalisation only
    plain = dict(inputs=torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8),
                 data_samples=None)
    _, preprocessor = run_pipeline(IMAGENET, paths[:1])
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375])
    expected = (plain['inputs'][:, [2, 1, 0]].float() - mean[:, None, None]) / std[:, None, None]
    torch.testing.assert_close(preprocessor(plain, False)['inputs'], expected)


def test_preprocessor_applies_each_views_parameters_to_that_view(tmp_path):
    init_default_scope('mmpretrain')
    paths = [write_jpeg(tmp_path / f'{i}.jpg', seed=i) for i in range(3)]
    np.random.seed(0)
    batch, preprocessor = run_pipeline(IMAGENET, paths)
    views = preprocessor(batch, True)['inputs']
    mean, std = preprocessor.mean, preprocessor.std
    for sample, params in enumerate(batch['data_samples']):
        for view in (0, 1, 5):
            raw = batch['inputs'][view][sample:sample + 1, [2, 1, 0]].float()
            row = torch.from_numpy(params.photometric_params[view:view + 1])
            expected = (apply_photometric(raw, row) - mean) / std
            torch.testing.assert_close(views[view][sample:sample + 1], expected)


def test_bad_settings_and_missing_parameters_are_named(tmp_path):
    with pytest.raises(KeyError, match="Did you mean 'blur_prob'"):
        MultiCrop([dict(num_views=1, size=32, crop_scale_range=(0.4, 1.), blur_p=0.5)])
    with pytest.raises(KeyError, match="missing 'crop_scale_range'"):
        MultiCrop([dict(num_views=1, size=32)])
    with pytest.raises(ValueError, match=r'views\[0\]: grayscale_prob=1.5'):
        MultiCrop([dict(num_views=1, size=32, crop_scale_range=(0.4, 1.), grayscale_prob=1.5)])
    with pytest.raises(ValueError, match='hue must lie in'):
        MultiCrop([dict(num_views=1, size=32, crop_scale_range=(0.4, 1.))],
                  color_jitter=dict(prob=0.8, hue=0.7))
    init_default_scope('mmpretrain')
    preprocessor = MODELS.build(dict(type='MultiCropDataPreprocessor', mean=[0.] * 3,
                                     std=[1.] * 3))
    views = [torch.zeros(2, 3, 8, 8, dtype=torch.uint8)] * 2
    with pytest.raises(KeyError, match='photometric_params'):
        preprocessor(dict(inputs=views, data_samples=[]), True)
    with pytest.raises(ValueError, match="color_type must be 'color'"):
        StrictLoadImageFromFile(defer_decode=True, color_type='grayscale')
    garbage = tmp_path / 'garbage.jpg'
    garbage.write_bytes(b'\xff\xd8 not really a JPEG \xff\xd9')
    with pytest.raises(CorruptImageError, match='garbage.jpg'):
        StrictLoadImageFromFile(defer_decode=True)(dict(img_path=str(garbage)))
    assert StrictLoadImageFromFile(defer_decode=True, max_skips=1)(
        dict(img_path=str(garbage))) is None
    # a PNG cut short (end chunk kept) opens, then fails when MultiCrop decodes it:
    # stopped with the file's name, or skipped under the loader's budget
    buffer = io.BytesIO()
    photo_like(80, 60).save(buffer, 'PNG')
    broken = tmp_path / 'broken.png'
    broken.write_bytes(buffer.getvalue()[:len(buffer.getvalue()) // 2]
                       + buffer.getvalue()[-12:])
    crop = MultiCrop([dict(num_views=1, size=32, crop_scale_range=(0.4, 1.))])
    for max_skips in (0, 1):
        results = StrictLoadImageFromFile(defer_decode=True, max_skips=max_skips)(
            dict(img_path=str(broken)))
        if max_skips == 0:
            with pytest.raises(CorruptImageError, match='broken.png.*max_skips=0'):
                crop(results)
        else:
            assert crop(results) is None


# ----------------------------------------------------------------------------- loading
def image_folder(root, count=8, size=(80, 60)):
    (root / 'a').mkdir(parents=True)
    for i in range(count):
        write_jpeg(root / 'a' / f'{i}.jpg', *size, seed=i)
    return root


def synthetic_loader(root, num_workers, seed, shuffle=False, batch_size=2):
    cfg = Config.fromfile(str(ROOT / SYNTHETIC))
    loader = dict(cfg.train_dataloader, num_workers=num_workers, batch_size=batch_size,
                  persistent_workers=num_workers > 0,
                  sampler=dict(type='DefaultSampler', shuffle=shuffle))
    loader['dataset'] = dict(type='CustomDataset', data_root=str(root), data_prefix='',
                             with_label=False, pipeline=cfg.train_pipeline)
    return Runner.build_dataloader(loader, seed=seed)


def batch_params(loader):
    return [torch.from_numpy(np.stack([s.photometric_params for s in b['data_samples']]))
            for b in loader]


def test_workers_are_seeded_reproducibly_and_draw_different_augmentations(tmp_path):
    init_default_scope('mmpretrain')
    root = image_folder(tmp_path / 'data')
    first = batch_params(synthetic_loader(root, num_workers=2, seed=0))
    again = batch_params(synthetic_loader(root, num_workers=2, seed=0))
    other = batch_params(synthetic_loader(root, num_workers=2, seed=1))
    assert len(first) == 4
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    # batches 0 and 1 come from workers 0 and 1, which are seeded apart
    assert not torch.equal(first[0], first[1])
    batch = next(iter(synthetic_loader(root, num_workers=2, seed=0)))
    init_default_scope('mmpretrain')
    preprocessor = MODELS.build(Config.fromfile(str(ROOT / SYNTHETIC)).data_preprocessor)
    views = preprocessor(batch, True)['inputs']
    assert [tuple(v.shape) for v in views] == [(2, 3, 64, 64)] * 2 + [(2, 3, 32, 32)] * 4
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in views)


def _ddp_worker(rank, world_size, port, root, out):
    # a forked child must not enter the parent's OpenMP thread pool (GNU libgomp hangs);
    # PyTorch's own data-loader workers do the same
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        init_default_scope('mmpretrain')
        loader = synthetic_loader(root, num_workers=1, seed=0, shuffle=True)
        params = batch_params(loader)
        batch = next(iter(loader))
        preprocessor = MODELS.build(Config.fromfile(str(ROOT / SYNTHETIC)).data_preprocessor)
        views = preprocessor(batch, True)['inputs']
        gathered = [None] * world_size
        dist.all_gather_object(gathered, dict(params=params, shapes=[v.shape for v in views],
                                              indices=[s.sample_idx for b in loader
                                                       for s in b['data_samples']]))
        if rank == 0:
            torch.save(gathered, out)
    finally:
        dist.destroy_process_group()


def test_two_ddp_processes_draw_their_own_augmentations(tmp_path):
    root = image_folder(tmp_path / 'data')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = tmp_path / 'gathered.pt'
    # fork: the processes inherit the imported libraries (spawn re-imports them, ~30 s)
    mp.start_processes(_ddp_worker, args=(2, port, root, str(out)), nprocs=2,
                       start_method='fork')
    rank0, rank1 = torch.load(out, weights_only=False)
    assert sorted(rank0['indices'] + rank1['indices']) == list(range(8))  # disjoint halves
    assert [tuple(s) for s in rank0['shapes']] == [(2, 3, 64, 64)] * 2 + [(2, 3, 32, 32)] * 4
    assert not any(torch.equal(a, b) for a, b in zip(rank0['params'], rank1['params']))


# ----------------------------------------------------------------------------- benchmark
@pytest.mark.slow
def test_benchmark_script_reports_ratio_and_preprocessor_cost(tmp_path):
    out = tmp_path / 'bench.json'
    run_tool('tools/analysis/benchmark_pipeline.py', '--images', '2', '--rounds', '1',
             '--size', '160', '120', '--profile', '--out', str(out))
    import json
    result = json.loads(out.read_text())
    assert result['command'].startswith('python tools/analysis/benchmark_pipeline.py')
    assert result['threads'] == 1
    for name in ('reference', 'project', 'previous', 'project_cpu_total'):
        assert result['pipelines'][name]['images_per_s_per_core'] > 0
    ratio = result['ratio_vs_reference']['project']
    expected = (result['pipelines']['project']['images_per_s_per_core']
                / result['pipelines']['reference']['images_per_s_per_core'])
    assert ratio == pytest.approx(expected, rel=0.01)
    assert result['preprocessor']['cpu_ms_per_image'] > 0
    if not torch.cuda.is_available():
        assert result['preprocessor']['gpu_ms_per_image'] is None
        assert 'no CUDA' in result['preprocessor']['gpu_note']
    profile = result['profile_ms_per_image']
    assert profile['reference']['ColorJitter (p=0.8)']['ms_per_image'] > 0
    assert profile['project_loader']['MultiCrop: resize boxes (bicubic)']['ms_per_image'] > 0
