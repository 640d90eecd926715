"""Benchmark DINO multi-crop data loading: this project's pipeline vs the reference's.

Measures images per second per CPU core, side by side in one run, on
ImageNet-like JPEGs that it generates (500x375, quality 90, 1/f colour noise
with a few shapes; nothing is downloaded):

* ``reference``: facebookresearch/dino ``main_dino.py`` ``DataAugmentationDINO``
  (torchvision + PIL; written below from its description: ``pil_loader``, 2
  global + 8 local crops, flip, colour jitter, grayscale, blur, solarisation,
  ``ToTensor`` + ``Normalize``), then PyTorch's ``default_collate``;
* ``project``: the ``train_pipeline`` and ``collate_fn`` of ``--config`` (a
  DINO config; its default pipeline is ``MultiCrop``), i.e. what one data
  loader worker does per image;
* ``previous``: the same for ``--previous`` (the former mmpretrain
  ``MultiView`` pipeline, ``imagenet_dino_multicrop_mmpretrain.py``);
* ``preprocessor``: the config's data preprocessor in training mode on the
  collated ``project`` batch: milliseconds per image on the CPU (one thread),
  and on the GPU when CUDA is available (uint8 batch in pinned memory, copy
  included); ``project_cpu_total`` is loader + preprocessor on the CPU, the
  whole path of a CPU run.

One process, one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``),
pinned to one core (``--cpu``); pipelines alternate round by round over the
same images; images/s per core = images / CPU seconds of the process, the
median of ``--rounds`` rounds (wall-clock figures are reported too).
``--profile`` adds where the time goes, per transform / op (cProfile, so
absolute figures are somewhat inflated; read the shares).

Usage:
    python tools/analysis/benchmark_pipeline.py [--config CFG] [--images 16]
        [--rounds 5] [--profile] [--out FILE]
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', '1')  # before torch is imported
os.environ.setdefault('MKL_NUM_THREADS', '1')

import argparse  # noqa: E402
import cProfile  # noqa: E402
import inspect  # noqa: E402
import pstats  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List  # noqa: E402

import numpy as np  # noqa: E402
import PIL  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter, ImageOps, features  # noqa: E402
from torchvision import transforms as T  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from lkssl_mm.utils.benchmark_report import cpu_model, emit_json  # noqa: E402

DEFAULT_CONFIG = 'configs/dino/dino_lkconvnext-t-k13-ln_8xb64-100e_in1k.py'
PREVIOUS_CONFIG = 'configs/_base_/datasets/imagenet_dino_multicrop_mmpretrain.py'
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='the project pipeline')
    parser.add_argument('--previous', default=PREVIOUS_CONFIG,
                        help="the former pipeline ('' to leave it out)")
    parser.add_argument('--images', type=int, default=16, help='generated JPEGs')
    parser.add_argument('--size', type=int, nargs=2, default=(500, 375), metavar=('W', 'H'))
    parser.add_argument('--rounds', type=int, default=5, help='timed passes per pipeline')
    parser.add_argument('--cpu', type=int, default=None,
                        help='core to pin to (default: the first one allowed)')
    parser.add_argument('--profile', action='store_true', help='per-transform profile too')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='also write the JSON document here')
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- images
def imagenet_like_jpegs(out_dir: Path, count: int, size=(500, 375), seed: int = 0) -> List[str]:
    """``count`` photo-like JPEGs: 1/f colour noise (natural images' spectrum) and shapes."""
    rng = np.random.default_rng(seed)
    width, height = size
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / max(size))
    paths = []
    for index in range(count):
        mix = rng.normal(0, 1, (3, 3)) * 0.4 + np.eye(3)  # correlated colour channels
        planes = [np.fft.irfft2(falloff * np.exp(2j * np.pi * rng.random(falloff.shape)),
                                s=(height, width)) for _ in range(3)]
        noise = np.tensordot(mix, np.stack(planes), axes=1)
        noise = (noise - noise.mean()) / (noise.std() + 1e-8)
        pixels = np.clip(118 + 45 * noise.transpose(1, 2, 0) + rng.normal(0, 4, (height, width, 3)),
                         0, 255).astype(np.uint8)
        img = Image.fromarray(pixels)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(3, 8))):
            x0, y0 = rng.integers(0, width), rng.integers(0, height)
            x1, y1 = x0 + rng.integers(20, 200), y0 + rng.integers(20, 200)
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), colour)
        img = img.filter(ImageFilter.GaussianBlur(0.6))
        path = out_dir / f'img_{index:03d}.JPEG'
        img.save(path, quality=90)
        paths.append(str(path))
    return paths


# ----------------------------------------------------------------------------- reference
class ReferenceGaussianBlur:
    """dino utils.GaussianBlur: PIL blur, radius uniform in [0.1, 2], applied if random <= p."""

    def __init__(self, p: float, radius_min: float = 0.1, radius_max: float = 2.0):
        self.p, self.radius_min, self.radius_max = p, radius_min, radius_max

    def __call__(self, img):
        if random.random() > self.p:
            return img
        radius = random.uniform(self.radius_min, self.radius_max)
        return img.filter(ImageFilter.GaussianBlur(radius=radius))


class ReferenceSolarization:
    """dino utils.Solarization: ``ImageOps.solarize`` (threshold 128) with probability p."""

    def __init__(self, p: float):
        self.p = p

    def __call__(self, img):
        return ImageOps.solarize(img) if random.random() < self.p else img


class ReferenceDINOAugmentation:
    """main_dino.py DataAugmentationDINO with its defaults (global 0.4-1, local 0.05-0.4, 8)."""

    def __init__(self, global_scale=(0.4, 1.), local_scale=(0.05, 0.4), local_number=8):
        def flip_and_color_jitter():
            return [T.RandomHorizontalFlip(p=0.5),
                    T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2,
                                                 hue=0.1)], p=0.8),
                    T.RandomGrayscale(p=0.2)]

        normalize = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
        bicubic = T.InterpolationMode.BICUBIC
        self.global_1 = T.Compose([T.RandomResizedCrop(224, global_scale, interpolation=bicubic),
                                   *flip_and_color_jitter(), ReferenceGaussianBlur(1.0),
                                   *normalize])
        self.global_2 = T.Compose([T.RandomResizedCrop(224, global_scale, interpolation=bicubic),
                                   *flip_and_color_jitter(), ReferenceGaussianBlur(0.1),
                                   ReferenceSolarization(0.2), *normalize])
        self.local = T.Compose([T.RandomResizedCrop(96, local_scale, interpolation=bicubic),
                                *flip_and_color_jitter(), ReferenceGaussianBlur(0.5),
                                *normalize])
        self.local_number = local_number

    def __call__(self, img) -> List[torch.Tensor]:
        return [self.global_1(img), self.global_2(img),
                *(self.local(img) for _ in range(self.local_number))]


def reference_pil_loader(path: str) -> Image.Image:
    """Torchvision ImageFolder's loader (what main_dino.py's dataset uses)."""
    with open(path, 'rb') as f:
        return Image.open(f).convert('RGB')


def reference_loader(paths: List[str]) -> Callable[[], object]:
    augment = ReferenceDINOAugmentation()

    def run():
        return torch.utils.data.default_collate(
            [augment(reference_pil_loader(path)) for path in paths])
    return run


# ----------------------------------------------------------------------------- project
def project_parts(config: str):
    """(pipeline, collate, data preprocessor) of a config's DINO training data."""
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import FUNCTIONS, init_default_scope
    from mmpretrain.registry import MODELS

    import lkssl_mm  # noqa: F401  (registers the plugin)
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(ROOT / config))
    pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    collate = FUNCTIONS.get(cfg.train_dataloader.get('collate_fn', {}).get(
        'type', 'default_collate'))
    return pipeline, collate, MODELS.build(cfg.data_preprocessor)


def project_loader(paths: List[str], pipeline, collate) -> Callable[[], dict]:
    def run():
        return collate([pipeline(dict(img_path=path, sample_idx=i))
                        for i, path in enumerate(paths)])
    return run


# ----------------------------------------------------------------------------- timing
def time_rounds(runs: Dict[str, Callable], images: int, rounds: int) -> Dict[str, dict]:
    """Per pipeline: images/s per core (CPU time) and wall-clock, median over rounds."""
    cpu = {name: [] for name in runs}
    wall = {name: [] for name in runs}
    for run in runs.values():  # warm-up (file cache, lazy imports)
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            run()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start_wall)
    return {name: dict(
        images_per_s_per_core=round(images / statistics.median(cpu[name]), 2),
        images_per_s_wall=round(images / statistics.median(wall[name]), 2),
        ms_per_image_cpu=round(1e3 * statistics.median(cpu[name]) / images, 3),
        rounds_images_per_s_per_core=[round(images / t, 2) for t in cpu[name]])
        for name in runs}


def preprocessor_cost(preprocessor, batch: dict, images: int, rounds: int,
                      device: str = 'cpu') -> float:
    """Milliseconds per image of the preprocessor's training forward (copy included)."""
    if device != 'cpu':
        batch = dict(batch, inputs=[view.pin_memory() for view in batch['inputs']])
        preprocessor = preprocessor.to(device)
    times = []
    for index in range(rounds + 1):
        if device != 'cpu':
            torch.cuda.synchronize()
        start = time.perf_counter() if device != 'cpu' else time.process_time()
        preprocessor(batch, True)
        if device != 'cpu':
            torch.cuda.synchronize()
        elapsed = (time.perf_counter() if device != 'cpu' else time.process_time()) - start
        if index:  # the first is a warm-up
            times.append(elapsed)
    return round(1e3 * statistics.median(times) / images, 3)


# ----------------------------------------------------------------------------- profile
def reference_steps() -> list:
    """(label, function) whose time the profile reports, for the reference."""
    return [
        ('load: open + decode (pil_loader)', reference_pil_loader),
        ('RandomResizedCrop (crop + bicubic resize)', T.RandomResizedCrop.forward),
        ('RandomHorizontalFlip', T.RandomHorizontalFlip.forward),
        ('ColorJitter (p=0.8)', T.RandomApply.forward),
        ('RandomGrayscale', T.RandomGrayscale.forward),
        ('GaussianBlur (PIL)', ReferenceGaussianBlur.__call__),
        ('Solarization', ReferenceSolarization.__call__),
        ('ToTensor', T.ToTensor.__call__),
        ('Normalize', T.Normalize.forward),
        ('collate', torch.utils.data.default_collate),
    ]


def project_steps() -> list:
    from mmengine.dataset import default_collate
    from mmpretrain.datasets.transforms import PackInputs

    from lkssl_mm.datasets.transforms import MultiCrop, StrictLoadImageFromFile, multicrop
    return [
        ('StrictLoadImageFromFile (read, check, open)', StrictLoadImageFromFile.transform),
        ('MultiCrop: draw boxes', multicrop.sample_crop_box),
        ('MultiCrop: draw colour parameters', MultiCrop.sample_photometric),
        ('MultiCrop: decode (draft where allowed)', multicrop._decode),
        ('MultiCrop: resize boxes (bicubic)', multicrop._resize_box),
        ('PackInputs (HWC -> CHW copy)', PackInputs.transform),
        ('collate', default_collate),
    ]


def previous_steps() -> list:
    from mmengine.dataset import default_collate
    from mmpretrain.datasets import transforms as mmpretrain_transforms

    from lkssl_mm.datasets.transforms import StrictLoadImageFromFile
    return [('StrictLoadImageFromFile (read, check, decode)', StrictLoadImageFromFile.transform)
            ] + [(name, getattr(mmpretrain_transforms, name).transform) for name in (
                'RandomResizedCrop', 'RandomFlip', 'ColorJitter', 'RandomGrayscale',
                'GaussianBlur', 'Solarize', 'PackInputs')] + [('collate', default_collate)]


def preprocessor_steps() -> list:
    from lkssl_mm.models.data_preprocessors import MultiCropDataPreprocessor, photometric
    return [(f'photometric.{fn.__name__}', fn) for fn in (
        photometric.adjust_brightness, photometric.adjust_contrast,
        photometric.adjust_saturation, photometric.adjust_hue, photometric.to_grayscale,
        photometric.gaussian_blur, photometric.solarize)] + [
        ('whole preprocessor (incl. uint8 -> float, gather/scatter, normalise)',
         MultiCropDataPreprocessor.forward)]


def profile(run: Callable, steps: list, images: int) -> dict:
    """Cumulative CPU ms per image of each labelled function while ``run`` runs."""
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    run()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(tottime for _, _, tottime, _, _ in stats.values())
    rows = {}
    for label, function in steps:
        code = inspect.unwrap(function).__code__
        key = (code.co_filename, code.co_firstlineno, code.co_name)
        seconds = stats[key][3] if key in stats else 0.
        rows[label] = dict(ms_per_image=round(1e3 * seconds / images, 3),
                           share=round(seconds / total, 3) if total else None)
    rows['total (profiled)'] = dict(ms_per_image=round(1e3 * total / images, 3), share=1.0)
    return rows


# ----------------------------------------------------------------------------- main
def device_info() -> dict:
    cuda = torch.cuda.is_available()
    return dict(cpu=cpu_model(), cores_visible=os.cpu_count(), torch=torch.__version__,
                torchvision=torchvision.__version__, pillow=PIL.__version__,
                libjpeg_turbo=features.version('libjpeg_turbo'),
                gpu=torch.cuda.get_device_name() if cuda else None)


def pin_to_one_core(cpu) -> object:
    if not hasattr(os, 'sched_setaffinity'):
        return None
    core = sorted(os.sched_getaffinity(0))[0] if cpu is None else cpu
    os.sched_setaffinity(0, {core})
    return core


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    core = pin_to_one_core(args.cpu)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    result = dict(command=' '.join(['python', 'tools/analysis/benchmark_pipeline.py',
                                    *(sys.argv[1:] if argv is None else argv)]),
                  device=device_info(), threads=torch.get_num_threads(), pinned_core=core,
                  images=dict(count=args.images, size=list(args.size), quality=90),
                  rounds=args.rounds, config=args.config, previous=args.previous or None)
    with tempfile.TemporaryDirectory() as tmp:
        paths = imagenet_like_jpegs(Path(tmp), args.images, tuple(args.size), args.seed)
        pipeline, collate, preprocessor = project_parts(args.config)
        runs = dict(reference=reference_loader(paths),
                    project=project_loader(paths, pipeline, collate))
        if args.previous:
            old_pipeline, old_collate, _ = project_parts(args.previous)
            runs['previous'] = project_loader(paths, old_pipeline, old_collate)
        timed = time_rounds(runs, args.images, args.rounds)
        batch = runs['project']()
        cpu_ms = preprocessor_cost(preprocessor, batch, args.images, args.rounds)
        loader_ms = timed['project']['ms_per_image_cpu']
        timed['project_cpu_total'] = dict(
            images_per_s_per_core=round(1e3 / (loader_ms + cpu_ms), 2),
            ms_per_image_cpu=round(loader_ms + cpu_ms, 3))
        result['pipelines'] = timed
        reference = timed['reference']['images_per_s_per_core']
        result['ratio_vs_reference'] = {
            name: round(numbers['images_per_s_per_core'] / reference, 2)
            for name, numbers in timed.items() if name != 'reference'}
        cuda = torch.cuda.is_available()
        result['preprocessor'] = dict(
            type=type(preprocessor).__name__, batch_images=args.images,
            cpu_ms_per_image=cpu_ms,
            gpu_ms_per_image=preprocessor_cost(preprocessor, batch, args.images, args.rounds,
                                               'cuda') if cuda else None,
            gpu_note=None if cuda else 'no CUDA device on this machine: GPU cost not measured')
        if args.profile:
            preprocessor.to('cpu')
            result['profile_ms_per_image'] = dict(
                reference=profile(runs['reference'], reference_steps(), args.images),
                project_loader=profile(runs['project'], project_steps(), args.images),
                project_preprocessor_cpu=profile(lambda: preprocessor(batch, True),
                                                 preprocessor_steps(), args.images))
            if 'previous' in runs:
                result['profile_ms_per_image']['previous'] = profile(
                    runs['previous'], previous_steps(), args.images)
    return emit_json(result, args.out)


if __name__ == '__main__':
    main()
