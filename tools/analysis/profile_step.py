"""Profile whole LKConvNeXt train steps with torch.profiler: one table per kernel size.

The step is the one of ``benchmark_dwconv.py``'s part 2 (AdamW, bf16 autocast,
channels_last inputs and weights): LKConvNeXt-T, batch 128 at 224 on CUDA; on
the CPU a small default (LKConvNeXt-atto, batch 2 at 32 px, one step, fp32: under
bf16 autocast this CPU's PyTorch runs depthwise convolutions through its slow
per-channel-group path, ``aten::_slow_conv2d_*``, about 37 s per step even at this
size; ``--amp bf16`` shows it). For each kernel size it reports:

* the wall time of a step (timed without the profiler) and img/s;
* the top operators by self time (device time on CUDA, CPU time on the CPU);
* the time per category: depthwise convolution (cuDNN / Triton), other
  convolutions, layout copies, norms, activations, GEMMs, optimizer, other;
* layout copies: calls and inclusive time of ``aten::copy_`` / ``aten::clone`` /
  ``aten::contiguous`` / ``aten::to`` outside ``optimizer.step()``;
* the dispatcher's decision (forward and backward implementation) for every
  depthwise shape of the model.

A Markdown table per kernel size goes to stdout, the whole as JSON to ``--out``;
``--progress FILE`` appends each kernel's result as one JSON line as it is
taken. torch.profiler is PyTorch's own tool; this script only runs it on the
project's train step and groups what it records.

Usage:
    python tools/analysis/profile_step.py [--kernels 7 9 13 31 51d] [--impl auto]
        [--arch tiny] [--batch 128] [--size 224] [--steps 3] [--out FILE]
"""
import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, Tuple

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import benchmark_dwconv as bench  # noqa: E402,I001
from lkssl_mm.models.layers.dwconv import DepthwiseConv2d  # noqa: E402
from lkssl_mm.ops import dwconv  # noqa: E402

# (category, pattern on the lower-cased op or kernel name), first match wins
CATEGORIES = (
    ('depthwise conv (Triton)', r'^dw_(fwd|wgrad)_|lkssl_mm::depthwise'),
    ('layout copies', r'copy|clone|contiguous|permute.*kernel|transpose'),
    ('depthwise conv (cuDNN)', r'depthwise|grouped'),
    ('convolution (cuDNN/oneDNN)', r'conv|cudnn|mkldnn|dgrad|wgrad|implicit_gemm|winograd'),
    ('norm', r'layer_norm|layernorm|batch_norm|batchnorm|\bbn_|welford'),
    ('activation', r'gelu'),
    ('gemm (pointwise convs, head)', r'gemm|addmm|\bmm\b|aten::mm|bmm|linear|cutlass|cublas|'
                                     r'nvjet|xmma|matmul'),
    ('optimizer', r'adam|foreach|multi_tensor|optimizer'),
)
COPY_OPS = ('aten::copy_', 'aten::clone', 'aten::contiguous', 'aten::to', 'aten::_to_copy')


def parse_args(argv=None):
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--kernels', nargs='+', default=['7', '9', '13', '31', '51d'],
                        help="kernel sizes; '51d' is 51x5 + 5x51 (SLaK decomposition)")
    parser.add_argument('--impl', default='auto', choices=dwconv.IMPLS,
                        help='depthwise implementation (kernel 7 always runs cuDNN under auto)')
    parser.add_argument('--arch', default='tiny' if cuda else 'atto')
    parser.add_argument('--batch', type=int, default=bench.PART2_BATCH if cuda else 2)
    parser.add_argument('--size', type=int, default=224 if cuda else 32)
    parser.add_argument('--amp', choices=('bf16', 'none'), default='bf16' if cuda else 'none',
                        help='bf16 autocast or fp32')
    parser.add_argument('--warmup', type=int, default=3 if cuda else 1,
                        help='untimed steps first (dispatcher measurement, autotuning)')
    parser.add_argument('--steps', type=int, default=3 if cuda else 1,
                        help='timed steps, then as many profiled steps')
    parser.add_argument('--top', type=int, default=12, help='operators per table')
    parser.add_argument('--out', help='write the JSON document here')
    parser.add_argument('--progress', help='append each kernel size as a JSON line here')
    return parser.parse_args(argv)


def parse_kernel(spec: str) -> Tuple[int, str]:
    """'13' -> (13, 'plain'); '51d' -> (51, 'decomposed')."""
    match = re.fullmatch(r'(\d+)(d?)', spec)
    if not match:
        raise ValueError(f"--kernels: expected e.g. 13 or 51d, got {spec!r}")
    return int(match.group(1)), 'decomposed' if match.group(2) else 'plain'


def category(name: str) -> str:
    lowered = name.lower()
    for label, pattern in CATEGORIES:
        if re.search(pattern, lowered):
            return label
    return 'other'


def _record_dispatch(model, impl: str) -> Tuple[dict, list]:
    """Forward hooks that note each depthwise shape's implementation per pass."""
    table: Dict[str, dict] = {}

    def hook(module, inputs, output):
        x = inputs[0]
        cx, cw, _ = dwconv.autocast_inputs(x, module.weight, module.bias)
        key = dwconv.shape_key(cx, cw)
        if key not in table:
            table[key] = {p: dwconv.select_impl(x, module.weight, module.bias, module.padding,
                                                impl=impl, pass_=p) for p in ('fwd', 'bwd')}

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, DepthwiseConv2d)]
    return table, handles


def _events(prof, on_device: bool):
    """(name, calls, self time in ms) of each operator (CPU) or kernel (device)."""
    rows = []
    for ev in prof.key_averages():
        if on_device:
            if ev.device_type != DeviceType.CUDA:
                continue
            self_us = ev.self_device_time_total
        else:
            if ev.device_type != DeviceType.CPU:
                continue
            self_us = ev.self_cpu_time_total
        if self_us > 0:
            rows.append((ev.key, ev.count, self_us / 1e3))
    return rows


def _under_optimizer(event) -> bool:
    """Whether a CPU op ran inside ``optimizer.step()`` (PyTorch labels it Optimizer.step#...)."""
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith('Optimizer.step'):
            return True
        parent = parent.cpu_parent
    return False


def _categories(prof, on_device: bool, steps: int) -> Dict[str, float]:
    """Milliseconds per step per category (CPU: ops inside optimizer.step() are optimizer)."""
    totals: Dict[str, float] = defaultdict(float)
    if on_device:
        for name, _, ms in _events(prof, True):
            totals[category(name)] += ms / steps
    else:
        for ev in prof.events():
            if ev.device_type == DeviceType.CPU and ev.self_cpu_time_total > 0:
                label = 'optimizer' if _under_optimizer(ev) else category(ev.name)
                totals[label] += ev.self_cpu_time_total / 1e3 / steps
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def _layout_copies(prof, on_device: bool, steps: int) -> dict:
    """Calls and inclusive time per step of the copy ops outside ``optimizer.step()``."""
    out: Dict[str, dict] = {}
    for ev in prof.events():
        if ev.device_type != DeviceType.CPU or ev.name not in COPY_OPS or _under_optimizer(ev):
            continue
        entry = out.setdefault(ev.name, dict(calls=0.0, ms=0.0))
        entry['calls'] += 1 / steps
        entry['ms'] += (ev.device_time_total if on_device else ev.cpu_time_total) / 1e3 / steps
    return out


def profile_kernel(kernel: int, mode: str, args, device: torch.device) -> dict:
    """Time and profile train steps of LKConvNeXt with one kernel size."""
    model = bench.PooledClassifier(bench.build_backbone('lkconvnext', kernel, mode, args.arch))
    with dwconv.dwconv_impl(args.impl):
        step, model = bench.make_train_step(model, args.batch, args.size, device,
                                            amp=args.amp == 'bf16')
        dispatch, handles = _record_dispatch(model, args.impl)
        for _ in range(max(1, args.warmup)):
            step()
        for handle in handles:
            handle.remove()
        bench.synchronize(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        bench.synchronize(device)
        step_ms = (time.perf_counter() - start) * 1e3 / args.steps
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda'
                                               else [])
        with profile(activities=activities) as prof:
            for _ in range(args.steps):
                step()
            bench.synchronize(device)
    on_device = device.type == 'cuda'
    rows = _events(prof, on_device)
    total = sum(ms for _, _, ms in rows) / args.steps
    top = sorted(rows, key=lambda r: -r[2])[:args.top]
    return dict(
        kernel=f'{kernel}d' if mode == 'decomposed' else str(kernel), kernel_size=kernel,
        lk_mode=mode, impl=args.impl, step_ms=step_ms, img_per_s=args.batch * 1e3 / step_ms,
        time_basis='device (self CUDA time)' if on_device else 'CPU (self time)',
        profiled_ms_per_step=total,
        top_ops=[dict(name=name, category=category(name), calls=calls / args.steps,
                      ms=ms / args.steps, pct=100 * ms / args.steps / total if total else 0.0)
                 for name, calls, ms in top],
        categories=_categories(prof, on_device, args.steps),
        layout_copies=_layout_copies(prof, on_device, args.steps),
        dispatch=dispatch)


def table(result: dict, settings: dict) -> str:
    """One kernel size's profile as Markdown."""
    lines = [f"### kernel {result['kernel']} ({result['lk_mode']}, impl {result['impl']}): "
             f"LKConvNeXt-{settings['arch']}, batch {settings['batch']} at {settings['size']}, "
             f"{settings['amp']}, {settings['device']}",
             '', f"{result['step_ms']:.1f} ms per step, {result['img_per_s']:.1f} img/s; "
             f"profiled {result['time_basis']}: {result['profiled_ms_per_step']:.1f} ms per step",
             '', '| operator / kernel | category | calls/step | ms/step | % |',
             '|---|---|---|---|---|']
    for op in result['top_ops']:
        name = op['name'] if len(op['name']) <= 70 else op['name'][:67] + '...'
        lines.append(f"| `{name}` | {op['category']} | {op['calls']:.0f} | {op['ms']:.2f} | "
                     f"{op['pct']:.1f} |")
    lines += ['', '| category | ms/step |', '|---|---|']
    lines += [f'| {cat} | {ms:.2f} |' for cat, ms in result['categories'].items()]
    copies = ', '.join(f"{name} {c['calls']:.0f} calls / {c['ms']:.2f} ms"
                       for name, c in result['layout_copies'].items()) or 'none'
    lines += ['', f'copy ops per step outside the optimizer (inclusive times): {copies}', '',
              'dispatch (shape key: forward / backward):']
    lines += [f"- {key}: {d['fwd']} / {d['bwd']}" for key, d in result['dispatch'].items()]
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    kernels = [parse_kernel(spec) for spec in args.kernels]
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    settings = dict(arch=args.arch, batch=args.batch, size=args.size, steps=args.steps,
                    warmup=args.warmup, impl=args.impl,
                    amp='bf16 autocast' if args.amp == 'bf16' else 'fp32',
                    memory_format='channels_last', optimizer='AdamW',
                    device=bench.environment()['device'])
    log = bench.ProgressLog(args.progress)
    results = []
    for kernel, mode in kernels:
        result = bench._safe(profile_kernel, kernel, mode, args, device)
        log('profile', result)
        results.append(result)
        print(table(result, settings) if 'error' not in result
              else f"### kernel {kernel} {mode}: failed: {result['error']}", flush=True)
        print(flush=True)
    doc = dict(command=' '.join([Path(sys.executable).name] + sys.argv), **bench.environment(),
               settings=settings, results=results)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        Path(args.out).write_text(json.dumps(doc, indent=1) + '\n')
    return doc


if __name__ == '__main__':
    main()
