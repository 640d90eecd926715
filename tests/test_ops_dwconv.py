"""Depthwise convolution: dispatcher and custom op, Triton kernels, sm_90 compilation, tools.

The Triton kernels run under ``TRITON_INTERPRET=1`` in one subprocess (this file
run as a script with ``--worker``), so the variable never reaches other tests;
each case is then checked against ``F.conv2d`` (fp64) here. Every autotuning
configuration is also compiled for sm_90 with Triton's own ptxas (no GPU
needed) and its code checked for what the kernel family promises.
"""
import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / 'tools' / 'analysis'
BENCH = TOOLS / 'benchmark_dwconv.py'
TOL = {'float32': 2e-5, 'float16': 2e-3, 'bfloat16': 1e-2}
TRITON_IMPLS = ('triton', 'triton_window', 'triton_tc')


def _case(name, dtype, layout, k, hw=(10, 10), n=2, c=4, bias=True, fwd=None, wgrad=None,
          splits=None, impl='triton'):
    kh, kw = (k, k) if isinstance(k, int) else k
    return dict(name=name, impl=impl, dtype=dtype, layout=layout, kh=kh, kw=kw, n=n, c=c,
                h=hw[0], w=hw[1], bias=bias, fwd=fwd, wgrad=wgrad, splits=splits)


DIRECT_CASES = [
    _case('f32-nchw-k3', 'float32', 'nchw', 3),
    _case('f32-nchw-k9', 'float32', 'nchw', 9),
    _case('f32-nchw-k31-over-image', 'float32', 'nchw', 31, hw=(6, 6), c=2),
    _case('f32-nchw-k9x3', 'float32', 'nchw', (9, 3)),
    _case('f32-nchw-k3x9', 'float32', 'nchw', (3, 9), bias=False),
    _case('f32-cl-k3', 'float32', 'cl', 3),
    _case('f32-cl-k9', 'float32', 'cl', 9),
    _case('f32-cl-k31-over-image', 'float32', 'cl', 31, hw=(6, 6)),
    _case('f16-nchw-k9', 'float16', 'nchw', 9),
    _case('f16-cl-k13', 'float16', 'cl', 13, hw=(8, 8)),
    _case('bf16-nchw-k13', 'bfloat16', 'nchw', 13, hw=(8, 8)),
    _case('bf16-nchw-k3x9', 'bfloat16', 'nchw', (3, 9)),
    _case('bf16-cl-k9', 'bfloat16', 'cl', 9, c=8),
    _case('bf16-cl-k31-over-image', 'bfloat16', 'cl', 31, hw=(6, 6)),
    _case('bf16-cl-k9x3', 'bfloat16', 'cl', (9, 3)),
    # small tiles: several spatial tiles, partial channel/tap blocks, split reductions
    _case('f32-nchw-k5-small-tiles', 'float32', 'nchw', 5, hw=(5, 6), n=3, c=3,
          fwd=dict(BLOCK_C=2, BLOCK_H=4, BLOCK_W=4, num_warps=1),
          wgrad=dict(BLOCK_C=2, BLOCK_W=4, BLOCK_J=2, num_warps=1), splits=(2, 3)),
    _case('bf16-cl-k5x3-small-tiles', 'bfloat16', 'cl', (5, 3), hw=(5, 6), c=3,
          fwd=dict(BLOCK_C=2, BLOCK_H=2, BLOCK_W=4, num_warps=1),
          wgrad=dict(BLOCK_C=2, BLOCK_W=4, BLOCK_J=2, num_warps=1), splits=(1, 3)),
]


def _v2_cases(impl: str, tag: str) -> list:
    """The same matrix for each v2 family: dtypes x layouts, both gradients, rectangular
    kernels, kernels larger than the map, several tiles with split reductions."""
    small = dict(BLOCK_C=2, BLOCK_H=4, BLOCK_W=4, num_warps=1)
    return [_case(f'{tag}-{name}', *rest, impl=impl, **kw) for name, *rest, kw in [
        ('f32-nchw-k9', 'float32', 'nchw', 9, {}),
        ('f32-cl-k7', 'float32', 'cl', 7, dict(hw=(9, 11))),
        ('f16-nchw-k9x3', 'float16', 'nchw', (9, 3), {}),
        ('f16-cl-k3x9', 'float16', 'cl', (3, 9), dict(bias=False)),
        ('bf16-nchw-k13', 'bfloat16', 'nchw', 13, dict(hw=(8, 8))),
        ('bf16-cl-k9', 'bfloat16', 'cl', 9, dict(c=8)),
        ('f32-cl-k31-over-image', 'float32', 'cl', 31, dict(hw=(6, 6), c=2)),
        ('bf16-nchw-k15x5-over-image', 'bfloat16', 'nchw', (15, 5), dict(hw=(6, 9), c=2)),
        ('f32-nchw-k5-small-tiles', 'float32', 'nchw', 5,
         dict(hw=(5, 6), c=3, fwd=small, splits=(1, 3),
              wgrad=dict(BLOCK_C=2, BLOCK_R=2, BLOCK_W=4, num_warps=1))),
        ('bf16-cl-k5x3-small-tiles', 'bfloat16', 'cl', (5, 3),
         dict(hw=(5, 6), c=3, fwd=small, splits=(1, 3),
              wgrad=dict(BLOCK_C=2, BLOCK_R=2, BLOCK_W=4, num_warps=1))),
    ]]


CASES = DIRECT_CASES + _v2_cases('triton_window', 'window') + _v2_cases('triton_tc', 'tc')


# ----------------------------------------------------------------------------- worker
def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    got, ref = got.double().cpu(), ref.double().cpu()
    return ((got - ref).abs().max() / ref.abs().max().clamp_min(1e-12)).item()


def _grads(fn, x, weight, bias, grad_out):
    leaves = [t.detach().clone().requires_grad_() for t in (x, weight, bias) if t is not None]
    y = fn(*leaves) if bias is not None else fn(*leaves, None)
    return [y, *torch.autograd.grad(y, leaves, grad_out)]


def _inputs(case, device='cpu'):
    gen = torch.Generator().manual_seed(zlib.crc32(case['name'].encode()))
    dtype = getattr(torch, case['dtype'])
    x = torch.randn(case['n'], case['c'], case['h'], case['w'], generator=gen).to(dtype)
    if case['layout'] == 'cl':
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(case['c'], 1, case['kh'], case['kw'], generator=gen).to(dtype)
    bias = torch.randn(case['c'], generator=gen).to(dtype) if case['bias'] else None
    grad_out = torch.randn(x.shape, generator=gen).to(dtype)
    return [t if t is None else t.to(device) for t in (x, weight, bias, grad_out)]


def _run_case(case, device='cpu'):
    """Errors of one Triton implementation against F.conv2d in fp64 on the same inputs."""
    from lkssl_mm.ops import dwconv, dwconv_triton
    from lkssl_mm.ops.dwconv_op import depthwise_conv2d_apply
    x, weight, bias, grad_out = _inputs(case, device)
    pad = (case['kh'] // 2, case['kw'] // 2)

    def run(xr, wr, br):
        if 'over-image' in case['name']:
            # the entry point would cut the kernel to the map (reachable_kernel); the
            # kernels' own handling of taps beyond the image is tested through the op
            return depthwise_conv2d_apply(xr, wr, br, case['impl'])
        return dwconv.depthwise_conv2d(xr, wr, br, impl=case['impl'])

    def ref(xr, wr, br):
        return F.conv2d(xr, wr, br, 1, pad, 1, xr.shape[1])

    with dwconv_triton.kernel_config(case['fwd'], case['wgrad'], case['splits']):
        got = _grads(run, x, weight, bias, grad_out)
    exact = [t if t is None else t.cpu().double() for t in (x, weight, bias, grad_out)]
    want = _grads(ref, *exact)
    names = ['y', 'grad_x', 'grad_w', 'grad_b'][:len(got)]
    result = {name: _rel_err(g, w) for name, g, w in zip(names, got, want)}
    result['ran'] = [dwconv.select_impl(x, weight, bias, impl=case['impl'], pass_=p)
                     for p in ('fwd', 'bwd')]
    result['dtypes_ok'] = all(g.dtype == x.dtype for g in got)
    result['layout_ok'] = all(g.stride() == x.stride() for g in got[:2])
    return result


def _autotune_path():
    """Run Triton's autotuner over every config of every kernel (timings faked)."""
    from lkssl_mm.ops import dwconv_triton as dwt
    dwt._USE_AUTOTUNE = True
    for tuner in dwt._TUNED.values():
        tuner._do_bench = lambda fn, quantiles: (fn(), [1.0, 1.0, 1.0])[1]
    out = {}
    for impl in TRITON_IMPLS:
        for layout in ('nchw', 'cl'):
            case = _case(f'autotune-{impl}-{layout}', 'float32', layout, 5, hw=(4, 5), n=1, c=2,
                         impl=impl)
            out[f'{impl}-{layout}'] = _run_case(case)
    dwt._USE_AUTOTUNE = False
    return out


def _dispatch_checks():
    from lkssl_mm.ops import dwconv, dwconv_triton
    x, weight, bias, _ = _inputs(_case('dispatch', 'float32', 'cl', 9, c=3))
    out = {'interpreter': dwconv_triton.interpreter_enabled()}
    out['select'] = {impl: dwconv.select_impl(x, weight, bias, impl=impl)
                     for impl in TRITON_IMPLS}
    os.environ[dwconv.ENV_IMPL] = 'triton_tc'
    out['select_env'] = dwconv.select_impl(x, weight, bias)
    out['dispatch_err'] = _rel_err(dwconv.depthwise_conv2d(x, weight, bias),
                                   F.conv2d(x, weight, bias, 1, 4, 1, 3))
    out['select_even_kernel'] = dwconv.select_impl(x, weight[..., :8, :8], impl='triton')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = dwconv.depthwise_conv2d(x, weight, bias)
    ref = F.conv2d(x.bfloat16().float(), weight.bfloat16().float(), bias.bfloat16().float(),
                   1, 4, 1, 3)
    out['autocast_dtype'] = str(y.dtype)
    out['autocast_err'] = _rel_err(y, ref)
    del os.environ[dwconv.ENV_IMPL]
    return out


def _compiled_block_checks():
    """torch.compile(fullgraph=True) of a depthwise + LayerNorm block on each Triton kernel."""
    from lkssl_mm.models.layers.dwconv import DepthwiseConv2d
    from lkssl_mm.ops import dwconv
    torch.manual_seed(0)
    block = torch.nn.Sequential(DepthwiseConv2d(4, 9), torch.nn.GroupNorm(1, 4))
    x = torch.randn(2, 4, 8, 8).contiguous(memory_format=torch.channels_last)
    out = {}
    for impl in ('triton_tc',):  # the op is the same for every implementation
        results = []
        for compiled in (False, True):
            torch._dynamo.reset()
            fn = torch.compile(block, fullgraph=True, backend='aot_eager') if compiled else block
            xr = x.clone().requires_grad_()
            with dwconv.dwconv_impl(impl):
                y = fn(xr)
                grads = torch.autograd.grad((y ** 2).sum(), [xr, *block.parameters()])
            results.append([y.detach(), *grads])
        out[impl] = dict(equal=all(torch.equal(a, b) for a, b in zip(*results)),
                         ref_err=_rel_err(results[1][0], F.group_norm(
                             F.conv2d(x, block[0].weight, block[0].bias, 1, 4, 1, 4), 1,
                             block[1].weight, block[1].bias)))
    return out


def worker() -> None:
    """Subprocess entry point (TRITON_INTERPRET=1 is set before anything imports Triton)."""
    assert os.environ.get('TRITON_INTERPRET') == '1'
    results = {case['name']: _run_case(case) for case in CASES}
    results['autotune'] = _autotune_path()
    results['dispatch'] = _dispatch_checks()
    results['compiled'] = _compiled_block_checks()
    print(json.dumps(results))


# ----------------------------------------------------------------------------- kernels
@pytest.fixture(scope='module')
def interpreted():
    pytest.importorskip('triton')
    env = dict(os.environ, TRITON_INTERPRET='1', PYTHONPATH=str(ROOT))
    env.pop('LKSSL_DWCONV_IMPL', None)
    proc = subprocess.run([sys.executable, __file__, '--worker'], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_errors(result, dtype):
    for name in ('y', 'grad_x', 'grad_w', 'grad_b'):
        if name in result:
            assert result[name] < TOL[dtype], (name, result)
    assert result['dtypes_ok'] and result['layout_ok'], result


@pytest.mark.parametrize('case', CASES, ids=[c['name'] for c in CASES])
def test_triton_matches_conv2d(interpreted, case):
    result = interpreted[case['name']]
    assert result['ran'] == [case['impl']] * 2  # no silent fallback to F.conv2d
    assert ('grad_b' in result) == case['bias']
    _check_errors(result, case['dtype'])


@pytest.mark.parametrize('impl', TRITON_IMPLS)
@pytest.mark.parametrize('layout', ['nchw', 'cl'])
def test_triton_autotuner_path(interpreted, impl, layout):
    _check_errors(interpreted['autotune'][f'{impl}-{layout}'], 'float32')


def test_triton_dispatch_under_interpreter(interpreted):
    out = interpreted['dispatch']
    assert out['interpreter'] is True
    assert out['select'] == {impl: impl for impl in TRITON_IMPLS}
    assert out['select_env'] == 'triton_tc'
    assert out['dispatch_err'] < TOL['float32']
    assert out['select_even_kernel'] == 'torch'
    assert out['autocast_dtype'] == 'torch.bfloat16'
    assert out['autocast_err'] < TOL['bfloat16']


def test_triton_op_under_torch_compile(interpreted):
    """fullgraph=True (no graph break) through the custom op, identical to eager."""
    out = interpreted['compiled']['triton_tc']
    assert out['equal'], out
    assert out['ref_err'] < TOL['float32'], out


def test_interpreter_does_not_leak(interpreted):
    """The interpreter ran in the worker only: this process still compiles for the GPU."""
    pytest.importorskip('triton')
    from triton.runtime.interpreter import InterpretedFunction

    from lkssl_mm.ops import dwconv, dwconv_triton
    assert interpreted['dispatch']['interpreter'] is True
    assert 'TRITON_INTERPRET' not in os.environ or os.environ['TRITON_INTERPRET'] != '1'
    assert not dwconv_triton.interpreter_enabled() and not dwconv_triton.interpret_flag()
    assert not isinstance(dwconv_triton.KERNELS['fwd_tc'], InterpretedFunction)
    with pytest.raises(RuntimeError, match='need CUDA tensors'):
        dwconv.depthwise_conv2d(torch.randn(1, 2, 5, 5), torch.randn(2, 1, 3, 3),
                                impl='triton_tc')


def _first_config(name, cl):
    from lkssl_mm.ops import dwconv_triton as dwt
    cfg = dwt._CONFIGS[name, cl][0]
    return dict(cfg.kwargs, num_warps=cfg.num_warps, num_stages=cfg.num_stages)


CUDA_CASES = [c for c in CASES if c['fwd'] is None and c['impl'] == 'triton'][::4] \
    + [c for c in CASES if c['fwd'] is None and c['impl'] != 'triton'][::3]


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
@pytest.mark.parametrize('case', CUDA_CASES, ids=[c['name'] for c in CUDA_CASES])
def test_triton_cuda_matches_conv2d(case):
    """Each kernel family on the GPU, one config per kernel (compiles little)."""
    pytest.importorskip('triton')
    from lkssl_mm.ops import dwconv_impls
    variant = dwconv_impls.TRITON_IMPLS[case['impl']]
    cl = case['layout'] == 'cl'
    case = dict(case, fwd=_first_config(f'fwd_{variant}', cl),
                wgrad=_first_config(f'wgrad_{variant}', cl))
    _check_errors(_run_case(case, 'cuda'), case['dtype'])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_auto_dispatch_on_cuda(dw, monkeypatch, tmp_path):
    pytest.importorskip('triton')
    from lkssl_mm.ops import dwconv_triton as dwt
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setenv(dw.ENV_CACHE, str(tmp_path / 'dispatch.json'))
    dw.clear_decisions()
    x, w, b = (t.cuda() for t in _xw(k=13, layout='cl', c=32))
    assert dw.select_impl(x, w[..., 3:10, 3:10], b) == 'torch'  # 7x7: cuDNN, no measuring
    with dwt.kernel_config(_first_config('fwd_tc', True), _first_config('wgrad_tc', True)):
        choice = {p: dw.select_impl(x, w, b, pass_=p) for p in ('fwd', 'bwd')}
        assert set(choice.values()) <= set(dw.PASS_IMPLS)
        assert dw.decisions() == {dw.shape_key(x, w): choice}
        y = dw.depthwise_conv2d(x, w, b)
    assert _rel_err(y, F.conv2d(x, w, b, 1, 6, 1, 32)) < 1e-4
    dw.clear_decisions()


# ----------------------------------------------------------------------------- sm_90 code
def _compile_for_hopper(fn, ptr_dtypes, consts, div16, num_warps, num_stages):
    """The compiled kernel of ``fn`` for sm_90 (needs no GPU: Triton ships ptxas)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    sig = {a: 'constexpr' if a in consts else ptr_dtypes.get(a, 'i32') for a in fn.arg_names}
    attrs = {(fn.arg_names.index(a),): [['tt.divisibility', 16]] for a in div16 if a not in consts}
    src = ASTSource(fn=fn, signature=sig, constexprs=consts, attrs=attrs)
    return triton.compile(src, target=GPUTarget('cuda', 90, 32),
                          options={'num_warps': num_warps, 'num_stages': num_stages})


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _loops(ttgir: str) -> list:
    """The body lines of every scf.for, found by indentation."""
    lines = [line for line in ttgir.splitlines() if line.strip()]
    loops = []
    for i, line in enumerate(lines):
        if 'scf.for' in line:
            body = []
            for inner in lines[i + 1:]:
                if _indent(inner) <= _indent(line):
                    break
                body.append(inner)
            loops.append(body)
    return loops


def _count(lines, pattern: str) -> int:
    return sum(bool(re.search(pattern, line)) for line in lines)


GLOBAL_LOAD = r'= tt\.load |async_copy_global_to_local'


def _check_direct(name: str, ttgir: str, ptx: str) -> None:
    """v1: no per-iteration layout conversion (shared-memory round trips)."""
    assert sum(_count(body, 'convert_layout') for body in _loops(ttgir)) == 0


def _check_window(name: str, ttgir: str, ptx: str) -> None:
    """Input reuse: the innermost loop gathers from a segment loaded outside it."""
    loops = _loops(ttgir)
    inner = [body for body in loops if _count(body, 'scf.for') == 0]
    assert len(inner) == 1 and _count(inner[0], r'tt\.gather') == 1
    if name == 'fwd_window':  # tap loop: the tap's weight only; row loop: one x segment
        row_loop = [body for body in loops if _count(body, 'scf.for') == 1]
        assert _count(inner[0], GLOBAL_LOAD) == 1
        assert _count(row_loop[0], GLOBAL_LOAD) == 2
    else:  # weight gradient: one x segment and one g block per step, all pairs gathered
        assert _count(inner[0], GLOBAL_LOAD) == 2


def _check_tc(name: str, ttgir: str, ptx: str) -> None:
    """Tensor cores: the loop's tl.dot accumulates in an MMA layout; the PTX has mma."""
    dots = [line for body in _loops(ttgir) for line in body if 'tt.dot' in line]
    assert dots and all('#mma' in line for line in dots), dots
    assert re.search(r'\bmma\.sync|wgmma', ptx)


KERNEL_CHECKS = {'direct': _check_direct, 'window': _check_window, 'tc': _check_tc}
SHARED_MEMORY_SM90 = 227 * 1024


@pytest.mark.parametrize('name', ['fwd_direct', 'wgrad_direct', 'fwd_window', 'wgrad_window',
                                  'fwd_tc', 'wgrad_tc'])
@pytest.mark.parametrize('cl', [False, True], ids=['nchw', 'cl'])
def test_kernels_compile_for_hopper(name, cl):
    """Every autotuning config compiles for sm_90, fits its shared memory, and has the
    structure of its family (see KERNEL_CHECKS); kernel width 13, fp32 and bf16 alternately."""
    pytest.importorskip('triton')
    from lkssl_mm.ops import dwconv_triton as dwt
    if dwt.interpreter_enabled():
        pytest.skip('kernels were defined for the interpreter')
    fn = dwt.KERNELS[name]
    unit = 'c' if cl else 'w'  # the unit-stride axis; Triton specialises strides of 1
    strides = [a for a in fn.arg_names if a.startswith('stride_')]
    ones = [a for a in strides if a.endswith(unit) or a == 'stride_pbc']
    multiples = [a for a in strides if a not in ones and (
        a[-1] in 'hw' if cl else a[-1] == 'c')] + ['C']
    div16 = [a for a in fn.arg_names if a.endswith('_ptr') or a in multiples
             or a in ('stride_xn', 'stride_yn', 'stride_gn')]
    extra = dict(CHANNELS_LAST=cl, HAS_BIAS=True, KWP=16, BLOCK_J=16, UPCAST=False)
    for index, cfg in enumerate(dwt._CONFIGS[name, cl]):
        dtype = ('fp32', 'bf16')[index % 2]  # both dtypes across the configs
        consts = dict.fromkeys(ones, 1)
        consts.update({k: v for k, v in extra.items() if k in fn.arg_names}, **cfg.kwargs)
        if 'INPUT_PRECISION' in fn.arg_names:
            consts['INPUT_PRECISION'] = 'tf32x3' if dtype == 'fp32' else 'tf32'
        ptrs = {a: '*fp32' if a in ('p_ptr', 'pb_ptr') else f'*{dtype}'
                for a in fn.arg_names if a.endswith('_ptr')}
        kernel = _compile_for_hopper(fn, ptrs, consts, div16, cfg.num_warps, cfg.num_stages)
        assert kernel.metadata.shared <= SHARED_MEMORY_SM90, (cfg, kernel.metadata.shared)
        KERNEL_CHECKS[name.split('_')[1]](name, kernel.asm['ttgir'], kernel.asm['ptx'])


# ----------------------------------------------------------------------------- dispatcher
@pytest.fixture
def dw(monkeypatch):
    from lkssl_mm.ops import dwconv
    monkeypatch.delenv(dwconv.ENV_IMPL, raising=False)
    dwconv.set_dwconv_impl(None)
    yield dwconv
    dwconv.set_dwconv_impl(None)


def _xw(k=9, layout='nchw', c=4):
    x = torch.randn(2, c, 12, 12)
    if layout == 'cl':
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.randn(c, 1, k, k), torch.randn(c)


@pytest.mark.parametrize('layout', ['nchw', 'cl'])
def test_torch_impl_equals_conv2d(dw, layout):
    x, w, b = _xw(layout=layout)
    assert torch.equal(dw.depthwise_conv2d(x, w, b, impl='torch'),
                       F.conv2d(x, w, b, 1, 4, 1, 4))


@pytest.mark.parametrize('layout', ['nchw', 'cl'])
@pytest.mark.parametrize('mask', [(True, True, True), (True, False, False), (False, True, True)])
def test_torch_passes_match_autograd(dw, layout, mask):
    """The cuDNN/oneDNN passes the custom op runs equal F.conv2d and its autograd."""
    x, w, b = _xw(k=5, layout=layout)
    g = torch.randn_like(x)
    y = dw.forward_pass('torch', x, w, b)
    assert torch.equal(y, F.conv2d(x, w, b, 1, 2, 1, 4)) and y.stride() == x.stride()
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    want = torch.autograd.grad(F.conv2d(*leaves, 1, 2, 1, 4), leaves, g)
    got = dw.backward_pass('torch', g, x, w, True, mask)
    for flag, gt, wt in zip(mask, got, want):
        assert (gt is None) != flag
        if flag:
            torch.testing.assert_close(gt, wt)
    if mask[0]:
        assert got[0].stride() == x.stride()


def test_auto_uses_torch_on_cpu(dw):
    x, w, b = _xw()
    assert dw.requested_impl() == 'auto'
    assert dw.select_impl(x, w, b) == 'torch'
    assert torch.equal(dw.depthwise_conv2d(x, w, b), F.conv2d(x, w, b, 1, 4, 1, 4))


def test_env_var_is_honoured(dw, monkeypatch):
    x, w, b = _xw()
    monkeypatch.setenv(dw.ENV_IMPL, 'torch')
    assert dw.requested_impl() == 'torch'
    monkeypatch.setenv(dw.ENV_IMPL, 'bogus')
    with pytest.raises(ValueError, match='bogus'):
        dw.depthwise_conv2d(x, w, b)
    monkeypatch.setenv(dw.ENV_IMPL, 'triton_tc')
    assert dw.requested_impl() == 'triton_tc'


def test_triton_on_cpu_raises_clear_error(dw, monkeypatch):
    if os.environ.get('TRITON_INTERPRET') == '1':
        pytest.skip('the interpreter is on in this process')
    x, w, b = _xw()
    for impl in TRITON_IMPLS:
        with pytest.raises(RuntimeError, match=f"impl='{impl}'.*(TRITON_INTERPRET|not installed)"):
            dw.depthwise_conv2d(x, w, b, impl=impl)
    monkeypatch.setenv(dw.ENV_IMPL, 'triton')
    with pytest.raises(RuntimeError, match='TRITON_INTERPRET|not installed'):
        dw.depthwise_conv2d(x, w, b)


def test_forced_impl_precedence(dw, monkeypatch):
    monkeypatch.setenv(dw.ENV_IMPL, 'triton')
    with dw.dwconv_impl('torch'):
        assert dw.requested_impl() == 'torch'
        assert dw.requested_impl('triton_window') == 'triton_window'  # an argument wins
    assert dw.requested_impl() == 'triton'
    dw.set_dwconv_impl('auto')
    assert dw.requested_impl() == 'auto'
    with pytest.raises(ValueError, match="'cudnn'"):
        dw.set_dwconv_impl('cudnn')


@pytest.mark.parametrize('stride,padding', [(2, None), (1, (0, 0)), ((1, 2), (4, 4))])
def test_stride_and_padding_fall_back_to_torch(dw, stride, padding):
    x, w, b = _xw()
    assert dw.select_impl(x, w, b, padding=padding, stride=stride, impl='triton') == 'torch'
    want = F.conv2d(x, w, b, stride, (4, 4) if padding is None else padding, 1, 4)
    got = dw.depthwise_conv2d(x, w, b, padding=padding, impl='triton', stride=stride)
    assert torch.equal(got, want)


def test_same_padding_detection(dw):
    w = torch.randn(4, 1, 9, 3)
    assert dw._same_padding(w, (4, 1), 1) and dw._same_padding(w, 'same', (1, 1))
    assert not dw._same_padding(w, 4, 1)
    assert not dw._same_padding(w, 'valid', 1)
    assert not dw._same_padding(w, (4, 1), 2)
    x = torch.randn(2, 4, 12, 12)
    assert torch.equal(dw.depthwise_conv2d(x, w, padding='same', impl='torch'),
                       F.conv2d(x, w, None, 1, (4, 1), 1, 4))


@pytest.mark.parametrize('kernel,hw,kept', [
    ((13, 13), (2, 2), (3, 3)), ((13, 13), (1, 1), (1, 1)), ((13, 13), (7, 7), (13, 13)),
    ((13, 13), (6, 9), (11, 13)), ((51, 5), (7, 3), (13, 5)), ((5, 51), (2, 30), (3, 51)),
    ((31, 31), (4, 4), (7, 7))])
def test_kernel_is_cut_to_the_taps_that_reach_the_map(dw, kernel, hw, kept):
    """A "same" kernel larger than its map runs only the taps that meet a pixel; the
    output and every gradient equal F.conv2d's with the whole kernel (fp64)."""
    kh, kw = kernel
    x = torch.randn(2, 3, *hw, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1, kh, kw, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert tuple(dw.reachable_kernel(x, w).shape[-2:]) == kept
    got = dw.depthwise_conv2d(x, w, b)
    want = F.conv2d(x, w, b, 1, (kh // 2, kw // 2), 1, 3)
    g = torch.randn_like(want)
    for a, c in zip((got, *torch.autograd.grad(got, (x, w, b), g)),
                    (want, *torch.autograd.grad(want, (x, w, b), g))):
        torch.testing.assert_close(a, c, rtol=1e-12, atol=1e-12)
    grad_w = torch.autograd.grad(dw.depthwise_conv2d(x, w, b), w, g)[0]
    top, left = (kh - kept[0]) // 2, (kw - kept[1]) // 2
    outside = torch.ones_like(grad_w, dtype=torch.bool)
    outside[..., top:top + kept[0], left:left + kept[1]] = False
    assert not grad_w[outside].any()  # the cut taps: gradient exactly zero, as uncut


def test_kernel_cut_only_for_same_stride1(dw):
    x = torch.randn(1, 2, 2, 2)
    w = torch.randn(2, 1, 9, 9)
    assert dw.select_impl(x, w) == 'torch'
    # padding other than "same" keeps the whole kernel, and F.conv2d's error
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        dw.depthwise_conv2d(x, w, padding=(0, 0))
    torch.testing.assert_close(dw.depthwise_conv2d(x, w, padding=(4, 4), stride=2),
                               F.conv2d(x, w, None, 2, 4, 1, 2))


def test_backbone_with_cut_kernels_equals_uncut(dw, monkeypatch):
    """The demo LKConvNeXt at 13x13 on 32 px crops (maps 8, 4, 2, 1): same features and
    gradients with and without the cut, and the cut happens in the late stages."""
    from lkssl_mm.models.backbones import LKConvNeXt
    torch.manual_seed(0)
    model = LKConvNeXt(arch=dict(depths=[1, 1, 2, 1], channels=[8, 16, 32, 64]),
                       kernel_size=13, out_indices=(0, 1, 2, 3)).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    cut_kernels = []
    original = dw.reachable_kernel

    def spy(inp, weight):
        kept = original(inp, weight)
        cut_kernels.append(tuple(kept.shape[-2:]))
        return kept

    def run():
        model.zero_grad()
        outs = model(x)
        sum((o * torch.arange(o.numel(), dtype=o.dtype).view_as(o)).mean()
            for o in outs).backward()
        return [o.detach() for o in outs], [p.grad.clone() for p in model.parameters()]

    monkeypatch.setattr(dw, 'reachable_kernel', spy)
    cut = run()
    assert cut_kernels == [(13, 13), (7, 7), (3, 3), (3, 3), (1, 1)]
    with dw.whole_kernels():
        uncut = run()
    assert len(cut_kernels) == 5  # whole_kernels() does not cut
    for a, b in zip(cut[0] + cut[1], uncut[0] + uncut[1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_heuristic_without_measurement(dw):
    assert dw.heuristic_impl(3, 3) == 'torch'
    assert dw.heuristic_impl(7, 7, torch.bfloat16) == 'torch'
    assert dw.heuristic_impl(9, 9, torch.float32) == 'torch'  # v1 measured 0.89x cuDNN
    assert dw.heuristic_impl(9, 9, torch.bfloat16) == 'triton'
    assert dw.heuristic_impl(51, 5) == 'triton'


def test_shape_key_buckets(dw):
    x = torch.empty(40, 96, 200, 56).contiguous(memory_format=torch.channels_last)
    w = torch.empty(96, 1, 51, 5)
    assert dw.shape_key(x, w) == 'C96_H224_W56_k51x5_float32_cl_N64'
    assert dw.shape_key(x.contiguous(), w, torch.bfloat16) == 'C96_H224_W56_k51x5_bfloat16_nchw_N64'


def test_decide_per_pass_measures_once_and_persists(dw, monkeypatch, tmp_path):
    cache = tmp_path / 'dispatch.json'
    monkeypatch.setenv(dw.ENV_CACHE, str(cache))
    dw.clear_decisions()
    calls = []
    times = {'torch': {'fwd': 3.0, 'bwd': 1.0}, 'triton_tc': {'fwd': 1.0, 'bwd': 2.0},
             'triton_window': {'fwd': 2.0, 'bwd': 1.5}}

    def measure():
        calls.append(1)
        return times

    assert dw.decide('key-a', measure) == {'fwd': 'triton_tc', 'bwd': 'torch'}
    assert dw.decide('key-a', measure) == {'fwd': 'triton_tc', 'bwd': 'torch'}
    assert len(calls) == 1
    section = next(iter(json.loads(cache.read_text()).values()))
    assert section['key-a'] == {'fwd': 'triton_tc', 'bwd': 'torch', 'ms': times}
    dw.clear_decisions()  # a new process: the decision comes from the file

    def fail():
        raise AssertionError('should not measure again')

    assert dw.decide('key-a', fail) == {'fwd': 'triton_tc', 'bwd': 'torch'}
    inf = float('inf')
    assert dw.decide('key-b', lambda: {'torch': {'fwd': 1.0, 'bwd': 1.0},
                                       'triton': {'fwd': inf, 'bwd': inf}}) == \
        {'fwd': 'torch', 'bwd': 'torch'}
    dw.clear_decisions()


def test_cache_entries_of_other_formats_are_ignored(dw, monkeypatch, tmp_path):
    """A v1 cache entry ({'impl': ...}) or a bad name is re-measured, not trusted."""
    from lkssl_mm.ops import dwconv_dispatch
    cache = tmp_path / 'dispatch.json'
    cache.write_text(json.dumps({dwconv_dispatch.cache_section(): {
        'old': {'impl': 'triton', 'ms': {'torch': 1.0}},
        'bad': {'fwd': 'cudnn', 'bwd': 'torch'}}}))
    monkeypatch.setenv(dw.ENV_CACHE, str(cache))
    dw.clear_decisions()
    fresh = {'torch': {'fwd': 1.0, 'bwd': 1.0}}
    assert dw.decide('old', lambda: fresh) == {'fwd': 'torch', 'bwd': 'torch'}
    assert dw.decide('bad', lambda: fresh) == {'fwd': 'torch', 'bwd': 'torch'}
    dw.clear_decisions()


def test_measure_passes_on_cpu(dw):
    x, w, b = _xw(k=3)
    times = dw.measure_passes(x, w, b, impls=('torch',), warmup=1, reps=2)
    assert set(times) == {'torch'} and set(times['torch']) == {'fwd', 'bwd'}
    assert all(0 < ms < 10_000 for ms in times['torch'].values())


# ----------------------------------------------------------------------------- custom op
@pytest.mark.parametrize('layout', ['nchw', 'cl'])
@pytest.mark.parametrize('with_bias', [True, False])
def test_custom_op_passes_opcheck(dw, layout, with_bias):
    """Schema, fake (meta) implementation, autograd registration, AOT dispatch."""
    x, w, b = _xw(k=5, layout=layout)
    b = b if with_bias else None
    leaves = [t.requires_grad_() for t in (x, w, b) if t is not None]
    assert leaves
    torch.library.opcheck(torch.ops.lkssl_mm.depthwise_conv2d.default, (x, w, b, 'torch'))
    for mask in ([True, True, with_bias], [False, True, False]):
        torch.library.opcheck(torch.ops.lkssl_mm.depthwise_conv2d_backward.default,
                              (torch.randn_like(x), x.detach(), w.detach(), with_bias, mask,
                               'torch'))


def test_custom_op_compiles_without_graph_break(dw):
    """The op (reference implementation inside) under torch.compile(fullgraph=True)."""
    x, w, b = _xw(k=5, layout='cl')

    def fn(x, w, b):
        return torch.ops.lkssl_mm.depthwise_conv2d(x, w, b, 'auto').sin().sum()

    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, backend='aot_eager')
    results = []
    for f in (fn, compiled):
        leaves = [t.clone().requires_grad_() for t in (x, w, b)]
        out = f(*leaves)
        results.append([out, *torch.autograd.grad(out, leaves)])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want)


def test_lkconvnext_compiles_fullgraph_and_matches_eager(dw):
    """The backbone traces without a graph break (CPU: the reference path) and agrees."""
    from lkssl_mm.models.backbones import LKConvNeXt
    torch.manual_seed(0)
    model = LKConvNeXt(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 24, 32]),
                       kernel_size=[9, 9, 7, 7], lk_mode='plain').train()
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(model)(x)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    compiled = torch.compile(model, fullgraph=True, backend='aot_eager')
    results = []
    for f in (model, compiled):
        out = f(x)[-1].square().mean()
        results.append([out, *torch.autograd.grad(out, list(model.parameters()))])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- benchmark
def _bench(*args, timeout=300):
    proc = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=dict(os.environ, CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def _tool_module(name: str):
    """A script of tools/analysis imported as a module."""
    import importlib
    sys.path.insert(0, str(TOOLS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(TOOLS))


def _bench_module():
    return _tool_module('benchmark_dwconv')


def test_benchmark_train_step_on_cpu():
    """Part 2's train step (lazy head, channels_last, bf16 autocast) on a tiny backbone."""
    bench = _bench_module()
    from lkssl_mm.models.backbones import LKConvNeXt
    model = bench.PooledClassifier(LKConvNeXt(arch='atto', kernel_size=9))
    assert bench.train_throughput(model, batch=2, warmup=1, steps=1, device='cpu', size=32) > 0
    assert model.head.weight.shape == (1000, 320)


def test_benchmark_kernel_reach_on_cpu(tmp_path, capsys):
    """The cut's benchmark: the demo DINO config's crops, both paths, one JSON document."""
    tool = _tool_module('benchmark_kernel_reach')
    out = tmp_path / 'reach.json'
    doc = tool.main(['--kernels', '3', '13', '--batch', '2', '--repeats', '1',
                     '--device', 'cpu', '--out', str(out)])
    assert json.loads(out.read_text()) == doc == json.loads(capsys.readouterr().out)
    assert doc['crops'] == [dict(size=64, count=1), dict(size=64, count=1),
                            dict(size=32, count=4)] and doc['global_crops'] == 2
    assert [run['kernel'] for run in doc['runs']] == [3, 13]
    for run in doc['runs']:
        assert run['step_ms_cut'] > 0 and run['step_ms_uncut'] > 0
        assert run['max_abs_diff'] < 1e-4
    assert doc['runs'][0]['relative_to_smallest_kernel'] == 1.0
    from lkssl_mm.utils.builder import ConfigError
    with pytest.raises(ConfigError, match='model.backbone.type'):
        tool.main([str(ROOT / 'configs/demo/dino_vit-demo-p16_1xb32-100e_synthetic.py')])


def _progress_line(part, **fields):
    return json.dumps(dict(part=part, **fields))


def test_benchmark_summarise_checks_targets(tmp_path):
    def part1(kh, torch_ms, triton_ms, hw=56, kw=None):
        return _progress_line('part1', dtype='bfloat16', layout='channels_last', kh=kh,
                              kw=kw or kh, hw=hw, gflop_fwd_bwd=1.0, torch_ms=torch_ms,
                              triton_ms=triton_ms)

    def part2(k, impl, ips, mode='plain', model='lkconvnext'):
        return _progress_line('part2', model=model, kernel_size=k, lk_mode=mode,
                              dwconv_impl=impl, img_per_s=ips)
    stages = (56, 28, 14, 7)
    lines = [part1(7, 1.0, 2.0)] + [part1(13, 6.0, 1.0, hw) for hw in stages] \
        + [part1(31, 20.0, 10.0, hw) for hw in stages] + [part1(9, 5.0, 1.0, 56)] \
        + [part2(7, 'torch', 1000.0), part2(9, 'auto', 950.0), part2(13, 'auto', 700.0),
           part2(51, 'auto', 600.0, 'decomposed'), part2(None, 'torch', 1500.0, None, 'swin-t')]
    progress = tmp_path / 'progress.jsonl'
    progress.write_text('\n'.join(lines) + '\n')
    bench = _bench_module()
    doc = bench.main(['--summarise', str(progress)])
    # 9x9 has one stage of four: not a figure for the target
    assert set(doc['tflops']) == {'bfloat16/channels_last/13x13', 'bfloat16/channels_last/31x31'}
    assert doc['tflops']['bfloat16/channels_last/13x13'] == dict(
        torch_tflops=4 / 24.0, triton_tflops=4 / 4.0, speedup=6.0, target=3.0, met=True)
    assert doc['tflops']['bfloat16/channels_last/31x31']['met'] is False
    assert doc['throughput']['9'] == dict(img_per_s=950.0, ratio=0.95, target=0.9, met=True)
    assert doc['throughput']['13']['met'] is False  # 0.7 < 0.8
    assert doc['throughput']['51d'] == dict(img_per_s=600.0, ratio=0.6, target=0.5, met=True)
    assert 'throughput k31' in doc['missing'] and 'tflops float32/nchw/9x9' in doc['missing']
    assert doc['reference']['swin-t'] == 1500.0
    assert doc['all_met'] is None  # figures are missing
    table = bench.targets_table(doc)
    assert '| 13 | 700 | 0.70 | >= 0.8 | **no** |' in table
    assert '| bfloat16/channels_last/13x13 | 0.17 | 1.00 | 6.00 | >= 3.0 | yes |' in table
    assert 'missing: throughput k31' in table


def test_benchmark_without_cuda_skips(tmp_path):
    """No GPU: a JSON document that says why, written to --out, and no figure recorded."""
    progress, out = tmp_path / 'progress.jsonl', tmp_path / 'doc.json'
    doc = json.loads(_bench('--quick', '--progress', str(progress), '--out', str(out)))
    assert doc['skipped'].startswith('no CUDA device') and '--cpu-smoke' in doc['skipped']
    assert doc['device'] == 'cpu' and '--quick' in doc['command']
    assert not {'part1', 'part2', 'targets'} & set(doc)
    assert json.loads(out.read_text()) == doc
    assert not progress.exists()


def test_benchmark_warm_plan_checks_every_launch():
    """--warm --dry-run runs every Triton pass of both parts on meta tensors: the launch
    arguments match the kernels' signatures, and the plan covers what the parts launch."""
    bench = _bench_module()
    doc = bench.main(['--warm', '--dry-run', '--quick'])['warm']
    items = bench.warm_plan(quick=True)
    assert doc['errors'] == [] and doc['items'] == len(items)
    assert doc['launches'] == len(items) * len(TRITON_IMPLS) * 3  # fwd, input grad, weight grad
    _, part1 = bench.part1_plan(quick=True, smoke=False)
    assert len(items) == len(part1) + 4 * (3 + 2)  # part 2: k9/13/31 and the 51d pair
    chunks = bench.split_by_specialisation(items, jobs=6)
    assert sorted(map(json.dumps, (i for c in chunks for i in c))) == \
        sorted(map(json.dumps, items))
    assert len(chunks) == 6


def test_profile_step_helpers():
    profile_step = _tool_module('profile_step')
    assert profile_step.parse_kernel('51d') == (51, 'decomposed')
    assert profile_step.parse_kernel('13') == (13, 'plain')
    with pytest.raises(ValueError, match='51x'):
        profile_step.parse_kernel('51x')
    assert profile_step.category('dw_fwd_tc_kernel') == 'depthwise conv (Triton)'
    assert profile_step.category('aten::copy_') == 'layout copies'
    assert profile_step.category('aten::convolution_backward') == 'convolution (cuDNN/oneDNN)'
    assert profile_step.category('aten::native_layer_norm') == 'norm'
    assert profile_step.category('aten::_fused_adamw_') == 'optimizer'
    assert profile_step.category('aten::addmm') == 'gemm (pointwise convs, head)'


def test_gpu_checks_limits_fit_nine_minutes():
    """The GPU script's default step limits: pytest || warm, part2, part1, profile and the
    reserve for the targets table fit in TOTAL_S = 540 s."""
    script = (TOOLS / 'gpu_checks.sh').read_text()
    limits = {name: int(v) for name, v in re.findall(r'\$\{(\w+_S):-(\d+)\}', script)}
    reserve = int(re.search(r'^reserve=(\d+)', script, re.M).group(1))
    assert limits['TOTAL_S'] == 540
    parallel = max(limits['PYTEST_S'], limits['WARM_S'])
    assert parallel + limits['PART2_S'] + limits['PART1_S'] + limits['PROFILE_S'] + reserve \
        <= limits['TOTAL_S']


@pytest.mark.slow
def test_gpu_checks_dry_run(tmp_path):
    """gpu_checks.sh's CPU path: every step runs and leaves its files (limits raised: on a
    loaded 2-core machine the toy steps may take minutes)."""
    out = tmp_path / 'checks'
    limits = dict(TOTAL_S='3600', PYTEST_S='600', WARM_S='600', PART2_S='900', PROFILE_S='600')
    proc = subprocess.run(['bash', str(TOOLS / 'gpu_checks.sh'), str(out), '--dry-run'],
                          capture_output=True, text=True, timeout=3600, cwd=ROOT,
                          env=dict(os.environ, CUDA_VISIBLE_DEVICES='', PYTHON=sys.executable,
                                   **limits))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [json.loads(line) for line in (out / 'progress.jsonl').read_text().splitlines()]
    steps = {e['step']: e for e in lines if e['part'] == 'step'}
    assert set(steps) == {'pytest', 'warm', 'parts', 'profile'}
    assert all(e['exit'] == 0 for e in steps.values()), steps
    part1 = [e for e in lines if e['part'] == 'part1']
    assert part1 and all(e['torch_ms'] > 0 for e in part1)
    assert all(e['gflop_fwd_bwd'] == pytest.approx(
        3 * 2 * e['n'] * e['c'] * e['hw'] ** 2 * e['kh'] * e['kw'] / 1e9) for e in part1)
    part2 = [e for e in lines if e['part'] == 'part2']
    assert [(e['kernel_size'], e['lk_mode'], e['dwconv_impl']) for e in part2] == \
        [(7, 'plain', 'torch'), (9, 'plain', 'auto'), (51, 'decomposed', 'auto')]
    assert all(e['img_per_s'] > 0 and e['dispatch'] == {} for e in part2)  # CPU: no Triton
    profiles = [e for e in lines if e['part'] == 'profile']
    assert [p['kernel'] for p in profiles] == ['13']
    assert profiles[0]['img_per_s'] > 0 and profiles[0]['top_ops']
    assert profiles[0]['categories']['optimizer'] > 0
    assert profiles[0]['dispatch'] and all(d == dict(fwd='torch', bwd='torch')
                                           for d in profiles[0]['dispatch'].values())
    assert json.loads((out / 'warm.json').read_text())['warm']['errors'] == []
    targets = (out / 'targets.md').read_text()
    assert '| 9 |' in targets and '| 51d |' in targets and 'missing: ' in targets
    assert '### kernel 13 (plain, impl auto)' in (out / 'profile.md').read_text()
    assert 'targets' in proc.stdout and 'done in' in proc.stdout


if __name__ == '__main__' and '--worker' in sys.argv:
    worker()
