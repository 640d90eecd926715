"""Depthwise convolution: the dispatcher (in process) and the Triton kernels (interpreter).

The Triton kernels run under ``TRITON_INTERPRET=1`` in one subprocess (this file
run as a script with ``--worker``), so the variable never reaches other tests;
each case is then checked against ``F.conv2d`` here.
"""
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / 'tools' / 'analysis' / 'benchmark_dwconv.py'
TOL = {'float32': 2e-5, 'float16': 2e-3, 'bfloat16': 1e-2}


def _case(name, dtype, layout, k, hw=(10, 10), n=2, c=4, bias=True, fwd=None, wgrad=None,
          splits=None):
    kh, kw = (k, k) if isinstance(k, int) else k
    return dict(name=name, dtype=dtype, layout=layout, kh=kh, kw=kw, n=n, c=c, h=hw[0],
                w=hw[1], bias=bias, fwd=fwd, wgrad=wgrad, splits=splits)


CASES = [
    _case('f32-nchw-k3', 'float32', 'nchw', 3),
    _case('f32-nchw-k7', 'float32', 'nchw', 7, hw=(9, 11)),
    _case('f32-nchw-k9', 'float32', 'nchw', 9),
    _case('f32-nchw-k13', 'float32', 'nchw', 13, hw=(12, 12)),
    _case('f32-nchw-k31-over-image', 'float32', 'nchw', 31, hw=(8, 8), c=2),
    _case('f32-nchw-k9x3', 'float32', 'nchw', (9, 3)),
    _case('f32-nchw-k3x9', 'float32', 'nchw', (3, 9), bias=False),
    _case('f32-cl-k3', 'float32', 'cl', 3),
    _case('f32-cl-k7', 'float32', 'cl', 7, hw=(11, 9)),
    _case('f32-cl-k9', 'float32', 'cl', 9),
    _case('f32-cl-k13', 'float32', 'cl', 13, hw=(12, 12), c=8),
    _case('f32-cl-k31-over-image', 'float32', 'cl', 31, hw=(8, 8)),
    _case('f32-cl-k9x3', 'float32', 'cl', (9, 3)),
    _case('f32-cl-k3x9', 'float32', 'cl', (3, 9)),
    _case('f16-nchw-k9', 'float16', 'nchw', 9),
    _case('f16-cl-k13', 'float16', 'cl', 13, hw=(8, 8)),
    _case('bf16-nchw-k13', 'bfloat16', 'nchw', 13, hw=(8, 8)),
    _case('bf16-nchw-k3x9', 'bfloat16', 'nchw', (3, 9)),
    _case('bf16-cl-k9', 'bfloat16', 'cl', 9, c=8),
    _case('bf16-cl-k31-over-image', 'bfloat16', 'cl', 31, hw=(8, 8)),
    _case('bf16-cl-k9x3', 'bfloat16', 'cl', (9, 3)),
    # small tiles: several spatial tiles, partial channel/tap blocks, split reductions
    _case('f32-nchw-k5-small-tiles', 'float32', 'nchw', 5, hw=(7, 9), n=3, c=3,
          fwd=dict(BLOCK_C=2, BLOCK_H=4, BLOCK_W=4, num_warps=1),
          wgrad=dict(BLOCK_C=2, BLOCK_W=4, BLOCK_J=2, num_warps=1), splits=(2, 3)),
    _case('bf16-cl-k5x3-small-tiles', 'bfloat16', 'cl', (5, 3), hw=(6, 7), c=5,
          fwd=dict(BLOCK_C=2, BLOCK_H=2, BLOCK_W=4, num_warps=1),
          wgrad=dict(BLOCK_C=4, BLOCK_W=2, BLOCK_J=2, num_warps=1), splits=(1, 4)),
]


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


def _run_case(case, dwt, device='cpu'):
    """Errors of Triton against F.conv2d in fp64 (CPU) on the same (rounded) inputs."""
    x, weight, bias, grad_out = _inputs(case, device)
    pad = (case['kh'] // 2, case['kw'] // 2)

    def ref(xr, wr, br):
        return F.conv2d(xr, wr, br, 1, pad, 1, xr.shape[1])

    with dwt.kernel_config(case['fwd'], case['wgrad'], case['splits']):
        got = _grads(dwt.triton_depthwise_conv2d, x, weight, bias, grad_out)
    exact = [t if t is None else t.cpu().double() for t in (x, weight, bias, grad_out)]
    want = _grads(ref, *exact)
    names = ['y', 'grad_x', 'grad_w', 'grad_b'][:len(got)]
    result = {name: _rel_err(g, w) for name, g, w in zip(names, got, want)}
    result['dtypes_ok'] = all(g.dtype == x.dtype for g in got)
    result['layout_ok'] = all(g.stride() == x.stride() for g in got[:2])
    return result


def _autotune_path(dwt):
    """Run Triton's autotuner over every config (timings faked), one case per layout."""
    dwt._USE_AUTOTUNE = True
    for tuner in dwt._TUNED.values():
        tuner._do_bench = lambda fn, quantiles: (fn(), [1.0, 1.0, 1.0])[1]
    out = {}
    for layout in ('nchw', 'cl'):
        case = _case(f'autotune-{layout}', 'float32', layout, 5, hw=(6, 6), n=1, c=3)
        out[layout] = _run_case(case, dwt)
    dwt._USE_AUTOTUNE = False
    return out


def _dispatch_checks(dwt):
    from lkssl_mm.ops import dwconv
    x, weight, bias, _ = _inputs(_case('dispatch', 'float32', 'cl', 9, c=3))
    out = {'interpreter': dwt.interpreter_enabled()}
    out['select_triton'] = dwconv.select_impl(x, weight, bias, impl='triton')
    os.environ[dwconv.ENV_IMPL] = 'triton'
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
    return out


def worker() -> None:
    """Subprocess entry point (TRITON_INTERPRET=1 is set before anything imports Triton)."""
    assert os.environ.get('TRITON_INTERPRET') == '1'
    from lkssl_mm.ops import dwconv_triton as dwt
    results = {case['name']: _run_case(case, dwt) for case in CASES}
    results['autotune'] = _autotune_path(dwt)
    results['dispatch'] = _dispatch_checks(dwt)
    print(json.dumps(results))


# ----------------------------------------------------------------------------- kernels
@pytest.fixture(scope='module')
def interpreted():
    pytest.importorskip('triton')
    env = dict(os.environ, TRITON_INTERPRET='1', PYTHONPATH=str(ROOT))
    env.pop('LKSSL_DWCONV_IMPL', None)
    proc = subprocess.run([sys.executable, __file__, '--worker'], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
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
    assert ('grad_b' in result) == case['bias']
    _check_errors(result, case['dtype'])


@pytest.mark.parametrize('layout', ['nchw', 'cl'])
def test_triton_autotuner_path(interpreted, layout):
    _check_errors(interpreted['autotune'][layout], 'float32')


def test_triton_dispatch_under_interpreter(interpreted):
    out = interpreted['dispatch']
    assert out['interpreter'] is True
    assert out['select_triton'] == 'triton'
    assert out['select_env'] == 'triton'
    assert out['dispatch_err'] < TOL['float32']
    assert out['select_even_kernel'] == 'torch'
    assert out['autocast_dtype'] == 'torch.bfloat16'
    assert out['autocast_err'] < TOL['bfloat16']


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
@pytest.mark.parametrize('case', CASES[::3], ids=[c['name'] for c in CASES[::3]])
def test_triton_cuda_matches_conv2d(case):
    pytest.importorskip('triton')
    from lkssl_mm.ops import dwconv_triton as dwt
    if dwt.interpreter_enabled():
        pytest.skip('kernels were defined for the interpreter')
    _check_errors(_run_case(case, dwt, 'cuda'), case['dtype'])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_auto_dispatch_on_cuda(dw, monkeypatch, tmp_path):
    pytest.importorskip('triton')
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    monkeypatch.setenv(dw.ENV_CACHE, str(tmp_path / 'dispatch.json'))
    dw.clear_decisions()
    x, w, b = (t.cuda() for t in _xw(k=13, layout='cl', c=32))
    assert dw.select_impl(x, w[..., 3:10, 3:10], b) == 'torch'  # 7x7: cuDNN, no measuring
    assert dw.select_impl(x, w, b) in ('torch', 'triton')
    assert len(dw.decisions()) == 1
    y = dw.depthwise_conv2d(x, w, b)
    assert _rel_err(y, F.conv2d(x, w, b, 1, 6, 1, 32)) < 1e-4
    dw.clear_decisions()


def _compile_for_hopper(fn, ptr_dtypes, consts, div16, num_warps):
    """TTGIR of ``fn`` compiled for sm_90 (needs no GPU: Triton ships ptxas)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    sig = {a: 'constexpr' if a in consts else ptr_dtypes.get(a, 'i32') for a in fn.arg_names}
    attrs = {(fn.arg_names.index(a),): [['tt.divisibility', 16]] for a in div16 if a not in consts}
    src = ASTSource(fn=fn, signature=sig, constexprs=consts, attrs=attrs)
    return triton.compile(src, target=GPUTarget('cuda', 90, 32),
                          options={'num_warps': num_warps}).asm['ttgir']


def _in_loop_layout_conversions(ttgir: str) -> int:
    depth, count = 0, 0
    for line in ttgir.splitlines():
        depth += ('scf.for' in line) - ('scf.yield' in line)
        count += depth > 0 and 'convert_layout' in line
    return count


@pytest.mark.parametrize('name', ['fwd', 'wgrad'])
@pytest.mark.parametrize('cl', [False, True], ids=['nchw', 'cl'])
def test_kernels_compile_for_hopper(name, cl):
    """Every autotuning config compiles for sm_90 without per-iteration layout conversions."""
    pytest.importorskip('triton')
    from lkssl_mm.ops import dwconv_triton as dwt
    if dwt.interpreter_enabled():
        pytest.skip('kernels were defined for the interpreter')
    fn = dwt._KERNELS[name]
    unit = ('sxc', 'syc', 'swc', 'sgc', 'spc') if cl else ('sxw', 'syw', 'sww', 'sgw', 'spw')
    strided = ('sxh', 'sxw', 'syh', 'syw', 'swh', 'sww', 'sgh', 'sgw') if cl else ('sxc', 'sgc')
    div16 = [a for a in fn.arg_names if a.endswith('_ptr') or a in ('C', 'sxn', 'syn', 'sgn')]
    div16 += [a for a in strided if a in fn.arg_names]
    for index, cfg in enumerate(dwt._CONFIGS[name, cl]):
        consts = {a: 1 for a in unit if a in fn.arg_names}
        consts.update(cfg.kwargs, CHANNELS_LAST=cl)
        dtype = ('fp32', 'bf16')[index % 2]  # both dtypes across the configs
        ptrs = {a: f'*{dtype}' for a in fn.arg_names if a.endswith('_ptr')}
        if name == 'fwd':
            consts['HAS_BIAS'] = True
        else:
            consts['BLOCK_J'] = 16
            ptrs['p_ptr'] = '*fp32'
        ttgir = _compile_for_hopper(fn, ptrs, consts, div16, cfg.num_warps)
        assert _in_loop_layout_conversions(ttgir) == 0, (cfg, ttgir)


def test_interpreter_does_not_leak():
    assert os.environ.get('TRITON_INTERPRET') != '1'


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
    monkeypatch.setenv(dw.ENV_IMPL, 'triton')
    assert dw.requested_impl() == 'triton'


def test_triton_on_cpu_raises_clear_error(dw, monkeypatch):
    if os.environ.get('TRITON_INTERPRET') == '1':
        pytest.skip('the interpreter is on in this process')
    x, w, b = _xw()
    with pytest.raises(RuntimeError, match='TRITON_INTERPRET|not installed'):
        dw.depthwise_conv2d(x, w, b, impl='triton')
    monkeypatch.setenv(dw.ENV_IMPL, 'triton')
    with pytest.raises(RuntimeError, match='TRITON_INTERPRET|not installed'):
        dw.depthwise_conv2d(x, w, b)


def test_forced_impl_precedence(dw, monkeypatch):
    monkeypatch.setenv(dw.ENV_IMPL, 'triton')
    with dw.dwconv_impl('torch'):
        assert dw.requested_impl() == 'torch'
        assert dw.requested_impl('triton') == 'triton'  # an explicit argument wins
    assert dw.requested_impl() == 'triton'
    dw.set_dwconv_impl('auto')
    assert dw.requested_impl() == 'auto'
    with pytest.raises(ValueError):
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


def test_heuristic_without_measurement(dw):
    assert dw.heuristic_impl(3, 3) == 'torch'
    assert dw.heuristic_impl(7, 7) == 'torch'
    assert dw.heuristic_impl(9, 9) == 'triton'
    assert dw.heuristic_impl(51, 5) == 'triton'


def test_shape_key_buckets(dw):
    x = torch.empty(40, 96, 200, 56).contiguous(memory_format=torch.channels_last)
    w = torch.empty(96, 1, 51, 5)
    assert dw.shape_key(x, w) == 'C96_H224_W56_k51x5_float32_cl_N64'
    assert dw.shape_key(x.contiguous(), w, torch.bfloat16) == 'C96_H224_W56_k51x5_bfloat16_nchw_N64'


def test_decide_measures_once_and_persists(dw, monkeypatch, tmp_path):
    cache = tmp_path / 'dispatch.json'
    monkeypatch.setenv(dw.ENV_CACHE, str(cache))
    dw.clear_decisions()
    calls = []

    def measure():
        calls.append(1)
        return {'torch': 3.0, 'triton': 1.0}

    assert dw.decide('key-a', measure) == 'triton'
    assert dw.decide('key-a', measure) == 'triton'
    assert len(calls) == 1
    section = next(iter(json.loads(cache.read_text()).values()))
    assert section['key-a'] == {'impl': 'triton', 'ms': {'torch': 3.0, 'triton': 1.0}}
    dw.clear_decisions()  # a new process: the decision comes from the file

    def fail():
        raise AssertionError('should not measure again')

    assert dw.decide('key-a', fail) == 'triton'
    assert dw.decide('key-b', lambda: {'torch': 1.0, 'triton': float('inf')}) == 'torch'
    dw.clear_decisions()


def test_time_fwd_bwd_on_cpu(dw):
    x, w, b = _xw(k=3)
    ms = dw.time_fwd_bwd(dw.IMPL_FNS['torch'], x, w, b, warmup=1, reps=2)
    assert 0 < ms < 10_000


# ----------------------------------------------------------------------------- benchmark
def _bench(*args):
    proc = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=dict(os.environ, CUDA_VISIBLE_DEVICES=''))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def test_benchmark_cpu_smoke_json(tmp_path):
    progress = tmp_path / 'progress.jsonl'
    doc = _bench('--cpu-smoke', '--progress', str(progress))
    assert {'command', 'device', 'versions', 'part1', 'part2'} <= set(doc)
    assert '--cpu-smoke' in doc['command']
    assert {'torch', 'cudnn', 'triton'} <= set(doc['versions'])
    entries = doc['part1']['entries']
    assert len(entries) == 2 * 3 * 2  # settings x kernel sizes x stage shapes
    for e in entries:
        assert e['torch_ms'] > 0 and e['torch_tflops'] > 0, e
        assert e['gflop_fwd_bwd'] == pytest.approx(
            3 * 2 * e['n'] * e['c'] * e['hw'] ** 2 * e['kh'] * e['kw'] / 1e9)
    assert {(e['dtype'], e['layout']) for e in entries} == {('float32', 'nchw'),
                                                            ('bfloat16', 'channels_last')}
    assert len(doc['part1']['summary']) == 2 * 3
    assert 'skipped' in doc['part2']
    lines = [json.loads(line) for line in progress.read_text().splitlines()]
    assert [dict(line, part=None) for line in lines] == [dict(e, part=None) for e in entries]
    assert {line['part'] for line in lines} == {'part1'}


def test_benchmark_train_step_on_cpu():
    """Part 2's train step (lazy head, channels_last, bf16 autocast) on a tiny backbone."""
    sys.path.insert(0, str(BENCH.parent))
    try:
        import benchmark_dwconv as bench
    finally:
        sys.path.remove(str(BENCH.parent))
    from lkssl_mm.models.backbones import LKConvNeXt
    model = bench.PooledClassifier(LKConvNeXt(arch='atto', kernel_size=9))
    assert bench.train_throughput(model, batch=2, warmup=1, steps=1, device='cpu', size=32) > 0
    assert model.head.weight.shape == (1000, 320)


def _progress_line(part, **fields):
    return json.dumps(dict(part=part, **fields))


def test_benchmark_summarise_checks_targets(tmp_path):
    def part1(kh, torch_ms, triton_ms, hw=56):
        return _progress_line('part1', dtype='bfloat16', layout='channels_last', kh=kh, kw=kh,
                              hw=hw, torch_ms=torch_ms, triton_ms=triton_ms)

    def part2(k, impl, ips):
        return _progress_line('part2', model='lkconvnext', kernel_size=k, lk_mode='plain',
                              dwconv_impl=impl, img_per_s=ips)
    lines = [part1(7, 1.0, 2.0), part1(13, 6.0, 1.0, 56), part1(13, 6.0, 1.0, 28),
             part1(31, 20.0, 10.0), part2(7, 'torch', 1000.0), part2(9, 'auto', 950.0),
             part2(13, 'auto', 700.0)]
    progress = tmp_path / 'progress.jsonl'
    progress.write_text('\n'.join(lines) + '\n')
    doc = _bench('--summarise', str(progress))
    assert set(doc['tflops']) == {'bfloat16/channels_last/13x13', 'bfloat16/channels_last/31x31'}
    assert doc['tflops']['bfloat16/channels_last/13x13'] == dict(speedup=6.0, target=3.0,
                                                                 met=True)
    assert doc['tflops']['bfloat16/channels_last/31x31']['met'] is False
    assert doc['throughput']['9'] == dict(ratio=0.95, target=0.9, met=True)
    assert doc['throughput']['13']['met'] is False  # 0.7 < 0.8
    assert doc['all_met'] is None  # kernel 31's throughput is missing


def test_benchmark_without_cuda_skips():
    doc = _bench('--quick')
    assert 'skipped' in doc and 'part1' not in doc


if __name__ == '__main__' and '--worker' in sys.argv:
    worker()
