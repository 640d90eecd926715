"""Benchmark the kernel cut of ``depthwise_conv2d`` on a DINO config's multi-crop step.

A "same" depthwise kernel larger than its feature map is cut to the taps that
can reach the map (:func:`lkssl_mm.ops.dwconv.reachable_kernel`); the results
are the same, the work is smaller wherever multi-crop's small crops meet large
kernels in the late stages. For each kernel size this times one pre-training
step of the config's backbone as DINO runs it (the student forward and backward
on every crop, the teacher forward on the global crops; a mean-feature loss
stands in for DINO's head and loss, which do not depend on the kernel), with the
cut and with it switched off, in the same process. Prints one JSON document: the
command, the device, the crops, per kernel the median step milliseconds of both,
the speed-up, and each kernel's step time relative to the smallest kernel's
(cut on), plus the largest output difference of the two paths.

Usage:
    python tools/analysis/benchmark_kernel_reach.py [CONFIG] [--kernels 3 13]
        [--batch N] [--repeats N] [--device cpu|cuda] [--amp bf16|none]
        [--cfg-options KEY=VALUE ...] [--out FILE]
"""
import argparse
import copy
import sys
from pathlib import Path
from typing import List, Tuple

import torch
from mmengine.config import Config, DictAction

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import lkssl_mm  # noqa: E402,F401  (registers the modules)
from lkssl_mm.ops import dwconv  # noqa: E402
from lkssl_mm.utils.benchmark_report import cpu_model, emit_json  # noqa: E402
from lkssl_mm.utils.builder import ConfigError, build_model  # noqa: E402

DEFAULT_CONFIG = str(ROOT / 'configs/demo/dino_lkconvnext-demo_1xb32-100e_synthetic.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG,
                        help='a DINO config with a MultiCrop pipeline and an LKConvNeXt')
    parser.add_argument('--kernels', type=int, nargs='+', default=[3, 13],
                        help='kernel sizes (model.backbone.kernel_size) to time')
    parser.add_argument('--batch', type=int, help="images per step (default: the config's)")
    parser.add_argument('--repeats', type=int, default=5, help='timed steps (median)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', choices=('bf16', 'none'), default='none',
                        help='bf16 autocast (GPU runs)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--out', help='also write the JSON document here')
    return parser.parse_args(argv)


def multicrop_views(cfg: Config) -> List[Tuple[int, int]]:
    """(crop size, number of crops) of each view of the config's MultiCrop transform.

    Raises:
        ConfigError: If the training pipeline has no transform with ``views``.
    """
    for transform in cfg.train_dataloader.dataset.pipeline:
        if 'views' in transform:
            return [(int(v['size']), int(v.get('num_views', 1))) for v in transform['views']]
    raise ConfigError('train_dataloader.dataset.pipeline: no transform with views '
                      '(MultiCrop) to take the crop sizes from')


def _step(student, teacher, crops, global_count, amp, device):
    with torch.autocast(device.type, torch.bfloat16, enabled=amp):
        with torch.no_grad():
            for x in crops[:global_count]:
                teacher(x)
        loss = sum(f.float().mean() for x in crops for f in student(x))
    loss.backward()


def measure(cfg: Config, kernel: int, crops: List[torch.Tensor], global_count: int,
            repeats: int, amp: bool, device) -> dict:
    """Step milliseconds of the config's backbone at ``kernel`` with and without the cut."""
    student = build_model(cfg, 'backbone', kernel_size=kernel).to(device).train()
    teacher = copy.deepcopy(student)
    with torch.no_grad():
        with_cut = student(crops[-1])[-1]
        with dwconv.whole_kernels():
            without_cut = student(crops[-1])[-1]

    def run():
        student.zero_grad(set_to_none=True)
        _step(student, teacher, crops, global_count, amp, device)

    cut_ms = round(dwconv.median_ms(run, device, warmup=1, reps=repeats), 2)
    with dwconv.whole_kernels():
        uncut_ms = round(dwconv.median_ms(run, device, warmup=1, reps=repeats), 2)
    return dict(kernel=kernel, step_ms_cut=cut_ms, step_ms_uncut=uncut_ms,
                speedup=round(uncut_ms / cut_ms, 3),
                max_abs_diff=float((with_cut - without_cut).abs().max()))


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if cfg.model.backbone.get('type') != 'LKConvNeXt':
        raise ConfigError(f'model.backbone.type: the kernel cut is measured on LKConvNeXt, '
                          f'{args.config} has {cfg.model.backbone.get("type")!r}')
    device = torch.device(args.device)
    batch = args.batch or cfg.train_dataloader.batch_size
    views = multicrop_views(cfg)
    generator = torch.Generator().manual_seed(0)
    # the largest crops are DINO's global views: the teacher sees only those
    crops = [torch.randn(batch, 3, size, size, generator=generator).to(device)
             for size, count in sorted(views, reverse=True) for _ in range(count)]
    global_count = sum(count for size, count in views if size == crops[0].shape[-1])
    runs = [measure(cfg, k, crops, global_count, args.repeats, args.amp == 'bf16', device)
            for k in args.kernels]
    base = runs[0]['step_ms_cut']
    for run in runs:
        run['relative_to_smallest_kernel'] = round(run['step_ms_cut'] / base, 3)
    doc = dict(command=' '.join([sys.executable, *sys.argv]), config=args.config,
               device=(torch.cuda.get_device_name(device) if device.type == 'cuda'
                       else f'cpu ({cpu_model()}, {torch.get_num_threads()} threads)'),
               batch=batch, crops=[dict(size=s, count=c) for s, c in views],
               global_crops=global_count, amp=args.amp, repeats=args.repeats,
               torch=torch.__version__, runs=runs)
    return emit_json(doc, args.out)


if __name__ == '__main__':
    main()
