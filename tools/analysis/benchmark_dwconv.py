"""Benchmark depthwise convolution: cuDNN (F.conv2d) against the Triton kernels.

Prints one JSON document (and writes it to ``--out`` when given):

* part 1: per ConvNeXt-T stage shape (batch 64) and kernel size (9, 13, 31, 51,
  the SLaK pair 51x5 + 5x51, and 7 for reference), in fp32 NCHW and bf16
  channels_last: forward and backward milliseconds of every implementation
  ('torch' = cuDNN, 'triton', 'triton_window', 'triton_tc'), effective TFLOP/s,
  the best Triton kernel per pass (what the 'auto' dispatcher would pick among
  them), its speed-up over cuDNN and each kernel's largest relative error
  against cuDNN (output and gradients);
* part 2: train-step throughput (img/s; AdamW, batch 128 at 224, bf16 autocast,
  channels_last) of LKConvNeXt-T with a global-average-pooled linear head, the
  dispatcher on 'auto' (kernel 7 on cuDNN is the baseline), ViT-S/16 and Swin-T
  from mmpretrain, then stock PyTorch ('torch') at the large kernels; with the
  dispatcher's decisions per model.

Other modes:

* ``--cpu-smoke``: both parts on the CPU at toy sizes (part 1: CPU torch only; part 2:
  LKConvNeXt-atto at 32 px, one step): the code paths, not figures (tests);
* ``--warm [--jobs N]``: compile every Triton kernel the two parts will launch,
  in N processes (one GPU is enough); ``--dry-run`` (or no CUDA) only checks and
  counts the launches on 'meta' tensors;
* ``--summarise FILE [--table]``: the issue's targets checked against a
  ``--progress`` file (JSON, or a Markdown table).

Without CUDA the benchmark prints a JSON document with a "skipped" field and
exits 0. ``--progress FILE`` appends each measurement to FILE as one JSON line
the moment it is taken, so a run that is stopped early still leaves its figures.

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
from lkssl_mm.utils.benchmark_report import emit_json

STAGES = ((96, 56), (192, 28), (384, 14), (768, 7))  # ConvNeXt-T (channels, size) at 224
KERNELS = (9, 13, 31, 51, 7)  # the targets' kernels first; 7 for reference
FULL_KERNELS = KERNELS + (3,)
DECOMPOSED = ((51, 5), (5, 51))
SETTINGS = (('float32', 'nchw'), ('bfloat16', 'channels_last'))
TRITON_IMPLS = tuple(dwconv.PASS_IMPLS[1:])
PART1_BATCH, PART2_BATCH = 64, 128
# (model, kernel size, lk_mode, dwconv impl): the targets' figures first, stock PyTorch last
PART2_RUNS = (('lkconvnext', 7, 'plain', 'torch'), ('lkconvnext', 9, 'plain', 'auto'),
              ('lkconvnext', 13, 'plain', 'auto'), ('lkconvnext', 31, 'plain', 'auto'),
              ('lkconvnext', 51, 'decomposed', 'auto'), ('vit-s16', None, None, 'torch'),
              ('swin-t', None, None, 'torch'), ('lkconvnext', 9, 'plain', 'torch'),
              ('lkconvnext', 13, 'plain', 'torch'), ('lkconvnext', 31, 'plain', 'torch'),
              ('lkconvnext', 51, 'decomposed', 'torch'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='fewer repeats (and no kernel 3)')
    parser.add_argument('--cpu-smoke', action='store_true',
                        help='both parts on the CPU at toy sizes (tests)')
    parser.add_argument('--parts', default='1,2', help='comma-separated parts to run')
    parser.add_argument('--out', help='also write the JSON document here')
    parser.add_argument('--progress', help='append each measurement here as a JSON line')
    parser.add_argument('--summarise', metavar='PROGRESS_FILE',
                        help='only print the targets checked against a --progress file')
    parser.add_argument('--table', action='store_true',
                        help='with --summarise: a Markdown table instead of JSON')
    parser.add_argument('--warm', action='store_true',
                        help='compile every Triton kernel that parts 1 and 2 launch')
    parser.add_argument('--jobs', type=int, default=max(1, (os.cpu_count() or 2) - 2),
                        help='--warm: compiling processes')
    parser.add_argument('--dry-run', action='store_true',
                        help='--warm: only check and count the launches (meta tensors)')
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


def _outputs(impl, x, weight, bias, grad):
    """Output and (x, weight, bias) gradients of one implementation, without autograd."""
    with torch.no_grad():
        y = dwconv.forward_pass(impl, x, weight, bias)
        return [y, *dwconv.backward_pass(impl, grad, x, weight, True, (True, True, True))]


def max_rel_error(impl, x, weight, bias) -> float:
    """Largest error over output and gradients, relative to each cuDNN reference's max."""
    grad = torch.ones_like(x)
    errors = []
    for got, ref in zip(_outputs(impl, x, weight, bias, grad),
                        _outputs('torch', x, weight, bias, grad)):
        ref = ref.float()
        errors.append(((got.float() - ref).abs().max() / ref.abs().max().clamp_min(1e-12)).item())
    return max(errors)


def bench_shape(n, c, hw, kh, kw, dtype_name, layout, device, reps, impls) -> dict:
    """Forward/backward ms of each implementation on one shape, and the best Triton pair."""
    dtype = getattr(torch, dtype_name)
    x, weight, bias = _inputs(n, c, hw, kh, kw, dtype, layout, device)
    flops = 3 * dwt.flops(n, c, hw, hw, kh, kw)  # forward + two backward convolutions
    entry = dict(dtype=dtype_name, layout=layout, n=n, c=c, hw=hw, kh=kh, kw=kw,
                 gflop_fwd_bwd=flops / 1e9)
    times = dwconv.measure_passes(x, weight, bias, impls, warmup=2, reps=reps)
    entry['ms'] = times
    for impl, ms in times.items():
        entry[f'{impl}_ms'] = ms['fwd'] + ms['bwd']
        entry[f'{impl}_tflops'] = flops / entry[f'{impl}_ms'] / 1e9
    triton_impls = [impl for impl in impls if impl != 'torch']
    if triton_impls:
        best = {p: min(triton_impls, key=lambda impl: times[impl][p]) for p in ('fwd', 'bwd')}
        entry['triton_best'] = best
        entry['triton_ms'] = times[best['fwd']]['fwd'] + times[best['bwd']]['bwd']
        entry['triton_tflops'] = flops / entry['triton_ms'] / 1e9
        entry['speedup'] = entry['torch_ms'] / entry['triton_ms']
        entry['max_rel_err'] = {impl: max_rel_error(impl, x, weight, bias)
                                for impl in triton_impls if times[impl]['fwd'] < float('inf')}
    if layout == 'channels_last':
        entry['to_nchw_and_back_ms'] = _conversion_ms(x, reps)
    return entry


def _conversion_ms(x: torch.Tensor, reps: int) -> float:
    """Cost of converting the input to NCHW and back (a layout-conversion wrapper's price)."""
    def convert():
        x.contiguous().contiguous(memory_format=torch.channels_last)
    return dwconv.median_ms(convert, x.device, warmup=1, reps=reps)


def part1_plan(quick: bool, smoke: bool):
    """(batch, [(dtype, layout, kh, kw, channels, size)]) in measuring order."""
    if smoke:
        batch, stages, kernels, decomposed = 2, ((8, 8), (16, 4)), (9, 3), ((9, 3),)
    else:
        batch, stages, decomposed = PART1_BATCH, STAGES, DECOMPOSED
        kernels = KERNELS if quick else FULL_KERNELS
    sizes = [(k, k) for k in kernels if k != 7] + list(decomposed) \
        + [(k, k) for k in kernels if k == 7]
    return batch, [(dtype, layout, kh, kw, c, hw) for kh, kw in sizes
                   for dtype, layout in SETTINGS for c, hw in stages]


def run_part1(args, device, triton_ok, log: ProgressLog) -> dict:
    batch, plan = part1_plan(args.quick, args.cpu_smoke)
    reps = 3 if args.quick or args.cpu_smoke else 10
    impls = dwconv.PASS_IMPLS if triton_ok else ('torch',)
    entries = [log('part1', _safe(bench_shape, batch, c, hw, kh, kw, dtype, layout, device, reps,
                                  impls))
               for dtype, layout, kh, kw, c, hw in plan]
    return dict(batch=batch, reps=reps, impls=list(impls), entries=entries,
                summary=summarise(entries))


def summarise(entries: List[dict]) -> List[dict]:
    """Milliseconds summed over the stage shapes per (dtype, layout, kernel) and implementation."""
    groups: Dict[tuple, dict] = {}
    for e in entries:
        if 'error' in e:
            continue
        g = groups.setdefault((e['dtype'], e['layout'], e['kh'], e['kw']),
                              dict(dtype=e['dtype'], layout=e['layout'], kh=e['kh'], kw=e['kw'],
                                   shapes=0, gflop_fwd_bwd=0.0))
        g['shapes'] += 1
        g['gflop_fwd_bwd'] += e.get('gflop_fwd_bwd', 0.0)
        for field in [f for f in e if f.endswith('_ms') and f != 'to_nchw_and_back_ms']:
            g[field] = g.get(field, 0.0) + e[field]
    for g in groups.values():
        for field in [f for f in g if f.endswith('_ms')]:
            g[field.replace('_ms', '_tflops')] = g['gflop_fwd_bwd'] / g[field] \
                if g['gflop_fwd_bwd'] and g[field] else None
        if 'triton_ms' in g and 'torch_ms' in g:
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


def build_backbone(name: str, kernel_size: Optional[int] = None, lk_mode: Optional[str] = None,
                   arch: str = 'tiny') -> nn.Module:
    """LKConvNeXt (``arch``, kernel, mode), or mmpretrain's ViT-S/16 ('vit-s16') / Swin-T."""
    if name == 'lkconvnext':
        from lkssl_mm.models.backbones import LKConvNeXt
        return LKConvNeXt(arch=arch, kernel_size=kernel_size, lk_mode=lk_mode)
    from mmpretrain.models import SwinTransformer, VisionTransformer
    if name == 'vit-s16':
        return VisionTransformer(arch='deit-small', img_size=224, patch_size=16)
    return SwinTransformer(arch='tiny', img_size=224)


def make_train_step(model: nn.Module, batch: int, size: int, device: torch.device,
                    amp: bool = True):
    """An AdamW train step under bf16 autocast on channels_last inputs, and the model moved.

    Args:
        model (nn.Module): The classifier (its lazy head is materialised here).
        batch (int): Images per step.
        size (int): Image side.
        device (torch.device): Where to train.
        amp (bool): bf16 autocast (else fp32).

    Returns:
        tuple: (step function, the model on ``device`` in channels_last).
    """
    x = torch.randn(batch, 3, size, size, device=device).contiguous(
        memory_format=torch.channels_last)
    target = torch.randint(0, 1000, (batch,), device=device)
    model = model.to(device)
    with torch.no_grad():
        model(x[:2])  # materialise the lazy head before any layout change
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, model


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


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
    step, _ = make_train_step(model, batch, size, device)
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return batch * steps / (time.perf_counter() - start)


def bench_model(name, kernel_size, lk_mode, impl, batch, warmup, steps, device='cuda',
                size=224, arch='tiny') -> dict:
    """img/s of one model's train step, with the dispatch decisions its shapes added."""
    entry = dict(model=name, kernel_size=kernel_size, lk_mode=lk_mode, dwconv_impl=impl)
    before = set(dwconv.decisions())
    try:
        with dwconv.dwconv_impl(impl):
            model = PooledClassifier(build_backbone(name, kernel_size, lk_mode, arch))
            entry['img_per_s'] = train_throughput(model, batch, warmup, steps, device, size)
    except ImportError as err:
        entry['skipped'] = f'import failed: {err!r}'
    except Exception as err:  # noqa: BLE001 - OOM or a kernel failure: report and go on
        entry['error'] = repr(err)
    table = dwconv.decisions()
    entry['dispatch'] = {key: table[key] for key in sorted(set(table) - before)}
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return entry


def part2_runs(triton_ok: bool, smoke: bool = False) -> list:
    """The runs in order; without Triton no 'auto' runs, the smoke run LKConvNeXt only."""
    if smoke:  # the baseline, one plain and the decomposed kernel on 'auto'
        return [run for run in PART2_RUNS if run[0] == 'lkconvnext'
                and (run[1] == 7 or (run[3] == 'auto' and run[1] in (9, 51)))]
    return [run for run in PART2_RUNS if triton_ok or run[3] != 'auto']


def run_part2(args, triton_ok, log: ProgressLog) -> dict:
    if args.cpu_smoke:  # LKConvNeXt-atto, 32 px, one step: the code path, not a figure
        batch, warmup, steps, setting = 2, 1, 1, dict(device='cpu', size=32, arch='atto')
    else:
        batch, warmup, steps, setting = PART2_BATCH, 3, (5 if args.quick else 15), {}
    runs = part2_runs(triton_ok, args.cpu_smoke)
    entries = [log('part2', bench_model(*run, batch, warmup, steps, **setting)) for run in runs]
    return dict(batch=batch, warmup_steps=warmup, timed_steps=steps, entries=entries,
                dispatch_decisions=dwconv.decisions(), **setting)


# ----------------------------------------------------------------------------- warm
def warm_plan(quick: bool = True) -> List[dict]:
    """Every (shape, dtype, layout, bias) whose Triton kernels parts 1 and 2 will launch."""
    _, plan = part1_plan(quick, False)
    items = [dict(n=PART1_BATCH, c=c, h=hw, w=hw, kh=kh, kw=kw, dtype=dtype, layout=layout,
                  bias=True) for dtype, layout, kh, kw, c, hw in plan]
    # part 2: bf16 channels_last at batch 128; plain kernels have a bias, the decomposed
    # pair (conv + BN in training) has none
    for _, k, mode, impl in PART2_RUNS:
        if impl != 'auto':
            continue
        sizes = DECOMPOSED if mode == 'decomposed' else ((k, k),)
        items += [dict(n=PART2_BATCH, c=c, h=hw, w=hw, kh=kh, kw=kw, dtype='bfloat16',
                       layout='channels_last', bias=mode == 'plain')
                  for kh, kw in sizes for c, hw in STAGES]
    return items


def compile_items(items: List[dict], device: str) -> dict:
    """Compile (CUDA) or check ('meta') the launches of every Triton pass of ``items``."""
    launches, errors = [], []
    for item in items:
        dtype = getattr(torch, item['dtype'])
        x = torch.empty(item['n'], item['c'], item['h'], item['w'], device=device, dtype=dtype)
        if item['layout'] == 'channels_last':
            x = x.contiguous(memory_format=torch.channels_last)
        weight = torch.empty(item['c'], 1, item['kh'], item['kw'], device=device, dtype=dtype)
        bias = torch.empty(item['c'], device=device, dtype=dtype) if item['bias'] else None
        for impl in TRITON_IMPLS:
            try:
                with dwt.compile_only(launches):
                    dwconv.forward_pass(impl, x, weight, bias)
                    dwconv.backward_pass(impl, x, x, weight, item['bias'], (True, True, True))
            except Exception as err:  # noqa: BLE001 - report, compile the rest
                errors.append(dict(item, impl=impl, error=repr(err)))
    return dict(launches=len(launches), errors=errors)


def split_by_specialisation(items: List[dict], jobs: int) -> List[List[dict]]:
    """Up to ``jobs`` chunks; items that compile the same kernels share a chunk.

    Kernels are specialised on dtype, layout, bias and the kernel width's power
    of two (and on the batch through the weight-gradient split sizes), so those
    group; groups go to the least loaded chunk, largest first.
    """
    groups: Dict[tuple, List[dict]] = {}
    for item in items:
        key = (item['dtype'], item['layout'], item['bias'], item['n'],
               dwt.triton.next_power_of_2(item['kw']))
        groups.setdefault(key, []).append(item)
    chunks: List[List[dict]] = [[] for _ in range(max(1, min(jobs, len(groups))))]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(chunks, key=len).extend(group)
    return chunks


def _compile_job(items: List[dict]) -> dict:
    return compile_items(items, 'cuda')


def run_warm(args) -> dict:
    """Compile every kernel of the plan in ``args.jobs`` processes (or check it on 'meta')."""
    items = warm_plan(args.quick)
    start = time.perf_counter()
    if args.dry_run or not torch.cuda.is_available():
        result = compile_items(items, 'meta')
        result['mode'] = 'dry run: launches checked on meta tensors, nothing compiled'
    else:
        import multiprocessing as mp
        chunks = split_by_specialisation(items, args.jobs)
        jobs = len(chunks)
        with mp.get_context('spawn').Pool(jobs) as pool:
            parts = pool.map(_compile_job, chunks)
        result = dict(launches=sum(p['launches'] for p in parts),
                      errors=[e for p in parts for e in p['errors']],
                      mode=f'compiled in {jobs} processes')
    result.update(items=len(items), seconds=time.perf_counter() - start)
    return result


# ----------------------------------------------------------------------------- targets
# img/s of LKConvNeXt-T at a kernel (dispatcher on 'auto') over kernel 7 on cuDNN
THROUGHPUT_TARGETS = {(9, 'plain'): 0.9, (13, 'plain'): 0.8, (31, 'plain'): 0.5,
                      (51, 'decomposed'): 0.5}
TFLOPS_TARGET = 3.0  # depthwise fwd+bwd effective TFLOP/s over cuDNN's, k = 9..51


def _kernel_label(k, mode) -> str:
    return f'{k}d' if mode == 'decomposed' else str(k)


def check_targets(part1_entries: List[dict], part2_entries: List[dict]) -> dict:
    """The issue's targets against the measured entries (missing figures are left out).

    Args:
        part1_entries (list[dict]): Part 1 entries (depthwise fwd+bwd per shape).
        part2_entries (list[dict]): Part 2 entries (train-step img/s per model).

    Returns:
        dict: ``throughput`` (per kernel: img/s, ratio to kernel 7 on cuDNN,
        target, met), ``tflops`` (per dtype/layout and kernel: summed-over-stages
        TFLOP/s of cuDNN and the best Triton kernels, speed-up, target, met),
        ``reference`` (img/s of ViT-S/16, Swin-T and the stock large kernels),
        ``missing`` (targets without a figure) and ``all_met`` (None when a
        figure is missing).
    """
    ips = {(e['model'], e['kernel_size'], e['lk_mode'], e['dwconv_impl']): e['img_per_s']
           for e in part2_entries if 'img_per_s' in e}
    base = ips.get(('lkconvnext', 7, 'plain', 'torch'))
    throughput, missing = {}, []
    for (k, mode), target in THROUGHPUT_TARGETS.items():
        got = ips.get(('lkconvnext', k, mode, 'auto'))
        if base and got:
            throughput[_kernel_label(k, mode)] = dict(
                img_per_s=got, ratio=got / base, target=target, met=got / base >= target)
        else:
            missing.append(f'throughput k{_kernel_label(k, mode)}')
    tflops = {}
    for g in summarise(part1_entries):
        if 'speedup' in g and 9 <= max(g['kh'], g['kw']) <= 51 and g['shapes'] == len(STAGES):
            key = f"{g['dtype']}/{g['layout']}/{g['kh']}x{g['kw']}"
            tflops[key] = dict(torch_tflops=g['torch_tflops'], triton_tflops=g['triton_tflops'],
                               speedup=g['speedup'], target=TFLOPS_TARGET,
                               met=g['speedup'] >= TFLOPS_TARGET)
    for dtype, layout in SETTINGS:
        for kh, kw in [(k, k) for k in (9, 13, 31, 51)] + list(DECOMPOSED):
            if f'{dtype}/{layout}/{kh}x{kw}' not in tflops:
                missing.append(f'tflops {dtype}/{layout}/{kh}x{kw}')
    reference = {f'{m}' if k is None else f'{m}-k{_kernel_label(k, mode)}-{impl}': v
                 for (m, k, mode, impl), v in ips.items()}
    checks = list(throughput.values()) + list(tflops.values())
    return dict(throughput=throughput, tflops=tflops, reference=reference, missing=missing,
                all_met=all(c['met'] for c in checks) if not missing else None)


def targets_table(targets: dict) -> str:
    """The targets as Markdown tables (what was measured, what is met, what is missing)."""
    def fmt(v, spec='.2f'):
        return '-' if v is None else format(v, spec)

    def met(v):
        return 'yes' if v else '**no**'

    lines = ['| kernel | img/s (auto) | / 7x7 cuDNN | target | met |', '|---|---|---|---|---|']
    lines += [f"| {k} | {fmt(t['img_per_s'], '.0f')} | {fmt(t['ratio'])} | >= {t['target']} | "
              f"{met(t['met'])} |" for k, t in targets['throughput'].items()]
    lines += ['', '| depthwise fwd+bwd | cuDNN TFLOP/s | Triton TFLOP/s | speed-up | target '
              '| met |', '|---|---|---|---|---|---|']
    lines += [f"| {k} | {fmt(t['torch_tflops'])} | {fmt(t['triton_tflops'])} | "
              f"{fmt(t['speedup'])} | >= {t['target']} | {met(t['met'])} |"
              for k, t in targets['tflops'].items()]
    if targets['reference']:
        lines += ['', '| model | img/s |', '|---|---|']
        lines += [f'| {k} | {v:.0f} |' for k, v in targets['reference'].items()]
    lines += ['', f"missing: {', '.join(targets['missing']) or 'none'}",
              f"all targets met: {targets['all_met']}"]
    return '\n'.join(lines)


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
        print(targets_table(doc) if args.table else json.dumps(doc, indent=1))
        return doc
    doc = dict(command=' '.join([Path(sys.executable).name] + sys.argv), **environment())
    parts = {p.strip() for p in args.parts.split(',')}
    log = ProgressLog(args.progress)
    if args.warm:
        doc['warm'] = run_warm(args)
    elif args.cpu_smoke:
        doc['part2'] = run_part2(args, False, log)
        doc['part1'] = run_part1(args, torch.device('cpu'), False, log)
        doc['part1']['triton'] = 'skipped: --cpu-smoke times CPU torch only'
        doc['targets'] = check_targets(doc['part1']['entries'], doc['part2']['entries'])
    elif not torch.cuda.is_available():
        doc['skipped'] = 'no CUDA device: nothing to benchmark (use --cpu-smoke for a smoke run)'
    else:
        torch.backends.cudnn.benchmark = True
        triton_ok = dwt.triton_available() and not dwt.interpreter_enabled()
        if not triton_ok:
            doc['triton'] = 'skipped: triton missing or TRITON_INTERPRET=1'
        if '2' in parts:
            doc['part2'] = run_part2(args, triton_ok, log)
        if '1' in parts:
            doc['part1'] = run_part1(args, torch.device('cuda'), triton_ok, log)
        doc['targets'] = check_targets(doc.get('part1', {}).get('entries', []),
                                       doc.get('part2', {}).get('entries', []))
    return emit_json(doc, args.out, indent=1)


if __name__ == '__main__':
    main()
