"""Benchmark depthwise convolution: cuDNN (F.conv2d) against the Triton kernels.

Prints one JSON document (and writes it to ``--out`` when given):

* part 1: forward+backward milliseconds, effective TFLOP/s and speed-up for
  every ConvNeXt-T stage shape (batch 64) and kernel size, plus the SLaK-style
  decomposed pair 51x5 + 5x51, in fp32 NCHW and bf16 channels_last, with the
  largest relative error of Triton against cuDNN (output and gradients);
* part 2: train-step throughput (img/s; AdamW, batch 128 at 224, bf16 autocast,
  channels_last) of LKConvNeXt-T with a global-average-pooled linear head, the
  dispatcher forced to 'torch' and to 'auto', and ViT-S/16 and Swin-T from
  mmpretrain for reference.

Without CUDA it prints a JSON document with a "skipped" field and exits 0;
``--cpu-smoke`` runs part 1 on tiny shapes with CPU torch only (for tests).

``--progress FILE`` appends each measurement to FILE as one JSON line the moment
it is taken, so a run that is stopped early still leaves its figures.

Usage:
    python tools/analysis/benchmark_dwconv.py [--quick] [--parts 1,2] [--out FILE]
        [--progress FILE]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lkssl_mm.ops import dwconv  # noqa: I001
from lkssl_mm.ops import dwconv_triton as dwt

STAGES = ((96, 56), (192, 28), (384, 14), (768, 7))  # ConvNeXt-T (channels, size) at 224
KERNELS = (3, 7, 9, 13, 31, 51)
DECOMPOSED = ((51, 5), (5, 51))
SETTINGS = (('float32', 'nchw'), ('bfloat16', 'channels_last'))
BACKBONES = (('lkconvnext', 7, 'plain'), ('lkconvnext', 9, 'plain'), ('lkconvnext', 13, 'plain'),
             ('lkconvnext', 31, 'plain'), ('lkconvnext', 51, 'decomposed'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer repeats and shapes')
    parser.add_argument('--cpu-smoke', action='store_true',
                        help='part 1 on tiny shapes with CPU torch only')
    parser.add_argument('--parts', default='1,2', help='comma-separated parts to run')
    parser.add_argument('--out', help='also write the JSON document here')
    parser.add_argument('--progress', help='append each measurement here as a JSON line')
    parser.add_argument('--summarise', metavar='PROGRESS_FILE',
                        help='only print the targets checked against a --progress file')
    return parser.parse_args(argv)


class ProgressLog:
    """Appends each finished measurement to a JSON-lines file and echoes it to stderr.

    Args:
        path (str, optional): The file; None only echoes.
    """

    def __init__(self, path: Optional[str] = None):
        self.path = path
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def __call__(self, part: str, entry: dict) -> dict:
        line = json.dumps(dict(part=part, **entry))
        print(line, file=sys.stderr, flush=True)
        if self.path:
            with open(self.path, 'a') as f:
                f.write(line + '\n')
        return entry


def environment() -> dict:
    cuda = torch.cuda.is_available()
    return dict(
        device=torch.cuda.get_device_name() if cuda else 'cpu',
        versions=dict(torch=torch.__version__, cuda=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version() if cuda else None,
                      triton=dwt.triton.__version__ if dwt.triton_available() else None))


# ----------------------------------------------------------------------------- part 1
def _inputs(n, c, hw, kh, kw, dtype, layout, device):
    gen = torch.Generator(device='cpu').manual_seed(0)
    x = torch.randn(n, c, hw, hw, generator=gen).to(device=device, dtype=dtype)
    if layout == 'channels_last':
        x = x.contiguous(memory_format=torch.channels_last)
    weight = (torch.randn(c, 1, kh, kw, generator=gen) / (kh * kw) ** 0.5).to(device, dtype)
    bias = torch.randn(c, generator=gen).to(device, dtype)
    return x, weight, bias


def _outputs(fn, x, weight, bias):
    """Output and gradients (x, weight, bias) for a fixed upstream gradient."""
    leaves = [t.detach().clone().requires_grad_() for t in (x, weight, bias)]
    with torch.enable_grad():
        y = fn(*leaves)
        grads = torch.autograd.grad(y, leaves, torch.ones_like(y))
    return [y.detach(), *grads]


def max_rel_error(fn, ref_fn, x, weight, bias) -> float:
    """Largest error over output and gradients, relative to each reference's max."""
    errors = []
    for got, ref in zip(_outputs(fn, x, weight, bias), _outputs(ref_fn, x, weight, bias)):
        ref = ref.float()
        errors.append(((got.float() - ref).abs().max() / ref.abs().max().clamp_min(1e-12)).item())
    return max(errors)


def bench_shape(n, c, hw, kh, kw, dtype_name, layout, device, reps, triton_ok) -> dict:
    dtype = getattr(torch, dtype_name)
    x, weight, bias = _inputs(n, c, hw, kh, kw, dtype, layout, device)
    flops = 3 * dwt.flops(n, c, hw, hw, kh, kw)  # forward + two backward convolutions
    entry = dict(dtype=dtype_name, layout=layout, n=n, c=c, hw=hw, kh=kh, kw=kw,
                 gflop_fwd_bwd=flops / 1e9)
    impls = ('torch', 'triton') if triton_ok else ('torch',)
    for name in impls:
        ms = dwconv.time_fwd_bwd(dwconv.IMPL_FNS[name], x, weight, bias, warmup=2, reps=reps)
        entry[f'{name}_ms'] = ms
        entry[f'{name}_tflops'] = flops / ms / 1e9
    if triton_ok:
        entry['speedup'] = entry['torch_ms'] / entry['triton_ms']
        entry['max_rel_err'] = max_rel_error(dwconv.IMPL_FNS['triton'],
                                             dwconv.IMPL_FNS['torch'], x, weight, bias)
    if layout == 'channels_last':
        entry['to_nchw_and_back_ms'] = _conversion_ms(x, reps)
    return entry


def _conversion_ms(x: torch.Tensor, reps: int) -> float:
    """Cost of converting the input to NCHW and back (a layout-conversion wrapper's price)."""
    def convert():
        x.contiguous().contiguous(memory_format=torch.channels_last)
    times = [dwconv.time_call(convert, x.device) for _ in range(reps + 1)]
    return sorted(times[1:])[len(times[1:]) // 2]


def part1_shapes(quick: bool, smoke: bool):
    if smoke:
        return 2, ((8, 8), (16, 4)), (3, 9), ((9, 3),)
    if quick:
        return 64, STAGES, (7, 9, 13, 31, 51), DECOMPOSED
    return 64, STAGES, KERNELS, DECOMPOSED


def run_part1(args, device, triton_ok, log: ProgressLog) -> dict:
    batch, stages, kernels, decomposed = part1_shapes(args.quick, args.cpu_smoke)
    reps = 3 if args.quick or args.cpu_smoke else 10
    sizes = [(k, k) for k in kernels] + list(decomposed)
    entries = []
    for dtype_name, layout in SETTINGS:
        for kh, kw in sizes:
            for c, hw in stages:
                entries.append(log('part1', _safe(bench_shape, batch, c, hw, kh, kw,
                                                  dtype_name, layout, device, reps, triton_ok)))
    return dict(batch=batch, reps=reps, entries=entries, summary=summarise(entries))


def summarise(entries: List[dict]) -> List[dict]:
    """Milliseconds summed over the stage shapes per (dtype, layout, kernel)."""
    groups: Dict[tuple, dict] = {}
    for e in entries:
        if 'error' in e:
            continue
        g = groups.setdefault((e['dtype'], e['layout'], e['kh'], e['kw']),
                              dict(dtype=e['dtype'], layout=e['layout'], kh=e['kh'], kw=e['kw']))
        for field in ('torch_ms', 'triton_ms'):
            if field in e:
                g[field] = g.get(field, 0.0) + e[field]
    for g in groups.values():
        if 'triton_ms' in g:
            g['speedup'] = g['torch_ms'] / g['triton_ms']
    return list(groups.values())


def _safe(fn, *args) -> dict:
    """Run one measurement; an exception becomes an ``error`` field, not a crash."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - keep benchmarking the other shapes
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return dict(args=[str(a) for a in args], error=repr(err))


# ----------------------------------------------------------------------------- part 2
class PooledClassifier(nn.Module):
    """Backbone, global average pooling of its last output, linear 1000-class head."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = nn.LazyLinear(1000)

    def forward(self, x):
        out = self.backbone(x)
        while isinstance(out, (tuple, list)):
            out = out[-1]
        if out.dim() == 4:
            out = out.mean((2, 3))
        elif out.dim() == 3:
            out = out.mean(1)
        return self.head(out)


def build_backbone(name: str, kernel_size: Optional[int], lk_mode: Optional[str]) -> nn.Module:
    if name == 'lkconvnext':
        from lkssl_mm.models.backbones import LKConvNeXt
        return LKConvNeXt(arch='tiny', kernel_size=kernel_size, lk_mode=lk_mode)
    from mmpretrain.models import SwinTransformer, VisionTransformer
    if name == 'vit-s16':
        return VisionTransformer(arch='deit-small', img_size=224, patch_size=16)
    return SwinTransformer(arch='tiny', img_size=224)


def train_throughput(model: nn.Module, batch: int, warmup: int, steps: int,
                     device: str = 'cuda', size: int = 224) -> float:
    """Images per second of AdamW train steps under bf16 autocast, channels_last.

    Args:
        model (nn.Module): The classifier (its lazy head is materialised here).
        batch (int): Images per step.
        warmup (int): Untimed steps first.
        steps (int): Timed steps.
        device (str): 'cuda', or 'cpu' for tests.
        size (int): Image side.
    """
    device = torch.device(device)
    x = torch.randn(batch, 3, size, size, device=device).contiguous(
        memory_format=torch.channels_last)
    target = torch.randint(0, 1000, (batch,), device=device)
    model = model.to(device)
    with torch.no_grad():
        model(x[:2])  # materialise the lazy head before any layout change
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return batch * steps / (time.perf_counter() - start)


def bench_model(name, kernel_size, lk_mode, impl, batch, warmup, steps) -> dict:
    entry = dict(model=name, kernel_size=kernel_size, lk_mode=lk_mode, dwconv_impl=impl)
    try:
        with dwconv.dwconv_impl(impl):
            model = PooledClassifier(build_backbone(name, kernel_size, lk_mode))
            entry['img_per_s'] = train_throughput(model, batch, warmup, steps)
    except ImportError as err:
        entry['skipped'] = f'import failed: {err!r}'
    except Exception as err:  # noqa: BLE001 - OOM or a kernel failure: report and go on
        entry['error'] = repr(err)
    torch.cuda.empty_cache()
    return entry


def run_part2(args, triton_ok, log: ProgressLog) -> dict:
    batch, warmup, steps = 128, 3, (5 if args.quick else 15)
    try:
        from lkssl_mm.models.backbones import LKConvNeXt  # noqa: F401
        backbones = BACKBONES
        note = None
    except Exception as err:  # noqa: BLE001 - the backbone may not exist yet
        backbones = ()
        note = f'LKConvNeXt not importable, its rows are skipped: {err!r}'
    impls = ('torch', 'auto') if triton_ok else ('torch',)
    runs = [(name, k, mode, impl) for name, k, mode in backbones for impl in impls]
    runs += [(name, None, None, 'torch') for name in ('vit-s16', 'swin-t')]
    entries = [log('part2', bench_model(*run, batch, warmup, steps)) for run in runs]
    result = dict(batch=batch, warmup_steps=warmup, timed_steps=steps, entries=entries,
                  dispatch_decisions=dwconv.decisions())
    if note:
        result['skipped'] = note
    return result


# ----------------------------------------------------------------------------- targets
# img/s of LKConvNeXt-T at a kernel (dispatcher on 'auto') over kernel 7 on cuDNN
THROUGHPUT_TARGETS = {9: 0.9, 13: 0.8, 31: 0.5}
TFLOPS_TARGET = 3.0  # depthwise fwd+bwd effective TFLOP/s over cuDNN's, k = 9..51


def check_targets(part1_entries: List[dict], part2_entries: List[dict]) -> dict:
    """The issue's targets against the measured entries (missing figures are left out).

    Args:
        part1_entries (list[dict]): Part 1 entries (depthwise fwd+bwd per shape).
        part2_entries (list[dict]): Part 2 entries (train-step img/s per model).

    Returns:
        dict: ``throughput`` (per kernel: ratio, target, met), ``tflops`` (per
        dtype/layout and kernel: summed-over-stages speed-up, target, met) and
        ``all_met`` (None when a figure is missing).
    """
    ips = {(e['kernel_size'], e['lk_mode'], e['dwconv_impl']): e['img_per_s']
           for e in part2_entries if e.get('model') == 'lkconvnext' and 'img_per_s' in e}
    base = ips.get((7, 'plain', 'torch'))
    throughput = {}
    for k, target in THROUGHPUT_TARGETS.items():
        got = ips.get((k, 'plain', 'auto'))
        if base and got:
            throughput[k] = dict(ratio=got / base, target=target, met=got / base >= target)
    tflops = {}
    for g in summarise(part1_entries):
        if 'speedup' in g and 9 <= max(g['kh'], g['kw']) <= 51:
            key = f"{g['dtype']}/{g['layout']}/{g['kh']}x{g['kw']}"
            tflops[key] = dict(speedup=g['speedup'], target=TFLOPS_TARGET,
                               met=g['speedup'] >= TFLOPS_TARGET)
    checks = list(throughput.values()) + list(tflops.values())
    complete = len(throughput) == len(THROUGHPUT_TARGETS) and bool(tflops)
    return dict(throughput=throughput, tflops=tflops,
                all_met=all(c['met'] for c in checks) if complete else None)


def summarise_progress(path: str) -> dict:
    """Targets from a ``--progress`` file (also of a run stopped early)."""
    entries = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    return check_targets([e for e in entries if e['part'] == 'part1'],
                         [e for e in entries if e['part'] == 'part2'])


# ----------------------------------------------------------------------------- main
def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.summarise:
        doc = summarise_progress(args.summarise)
        print(json.dumps(doc, indent=1))
        return doc
    doc = dict(command=' '.join([Path(sys.executable).name] + sys.argv), **environment())
    parts = {p.strip() for p in args.parts.split(',')}
    log = ProgressLog(args.progress)
    if args.cpu_smoke:
        doc['part1'] = run_part1(args, torch.device('cpu'), False, log)
        doc['part1']['triton'] = 'skipped: --cpu-smoke times CPU torch only'
        doc['part2'] = dict(skipped='--cpu-smoke runs part 1 only')
    elif not torch.cuda.is_available():
        doc['skipped'] = 'no CUDA device: nothing to benchmark (use --cpu-smoke for a smoke run)'
    else:
        torch.backends.cudnn.benchmark = True
        triton_ok = dwt.triton_available() and not dwt.interpreter_enabled()
        if not triton_ok:
            doc['triton'] = 'skipped: triton missing or TRITON_INTERPRET=1'
        if '1' in parts:
            doc['part1'] = run_part1(args, torch.device('cuda'), triton_ok, log)
        if '2' in parts:
            doc['part2'] = run_part2(args, triton_ok, log)
        doc['targets'] = check_targets(doc.get('part1', {}).get('entries', []),
                                       doc.get('part2', {}).get('entries', []))
    text = json.dumps(doc, indent=1)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        Path(args.out).write_text(text + '\n')
    return doc


if __name__ == '__main__':
    main()
