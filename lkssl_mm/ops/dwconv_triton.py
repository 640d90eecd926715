"""Host side of the Triton depthwise-convolution kernels: tiles, autotuning, launches.

The kernels and their design are in :mod:`lkssl_mm.ops.dwconv_kernels`; this
module picks tiles (Triton's autotuner on the GPU, whole-image tiles in the
interpreter), lays out the operands and launches them. Three kernel families
(``VARIANTS``) compute the same convolution:

* ``direct``: one load per tap (v1);
* ``window``: one load per kernel row, taps gathered from the loaded segment;
* ``tc``: one GEMM per kernel row on tensor cores (banded weight matrix).

Autotuning (one autotuner per kernel and layout) is keyed on channels, kernel
size and bucketed spatial size, so variable input sizes (detection) do not
retune on every new shape; configs that would not fit in registers are pruned
before timing.

Import never fails: without Triton the module only reports
:func:`triton_available` as False. Kernels are compiled for the GPU unless
``TRITON_INTERPRET=1`` was set before this module was imported, in which case
they run on CPU tensors through Triton's interpreter (slow; for tests).
"""
import functools
import os
from contextlib import contextmanager, nullcontext
from typing import Dict, Optional, Tuple

import torch

try:
    import triton

    from . import dwconv_kernels as kernels
except Exception:  # noqa: BLE001 - any import failure means "no Triton"
    triton = None
    kernels = None


def interpret_flag() -> bool:
    """Triton's own reading of TRITON_INTERPRET (what ``triton.jit`` sees right now)."""
    knobs = getattr(triton, 'knobs', None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get('TRITON_INTERPRET', '0').lower() in ('1', 'true', 'on', 'yes')


_INTERPRET = triton is not None and interpret_flag()
MAX_KERNEL = 63
# Bump when kernels change so that persisted dispatch decisions are re-measured.
KERNEL_VERSION = 2
VARIANTS = ('direct', 'window', 'tc')
_OVERRIDES: Dict[str, object] = {}
# Triton's autotuner times configs on the GPU; the interpreter takes the largest tile instead.
_USE_AUTOTUNE = not _INTERPRET


def triton_available() -> bool:
    """Whether the ``triton`` package could be imported."""
    return triton is not None


def interpreter_enabled() -> bool:
    """Whether the kernels were defined under ``TRITON_INTERPRET=1`` (CPU tensors)."""
    return _INTERPRET


def size_bucket(v: int) -> int:
    """Round a spatial size up to one of four buckets per octave above 64.

    Args:
        v (int): Height or width.

    Returns:
        int: ``v`` itself up to 64, else ``v`` rounded up to a multiple of a
        quarter of the largest power of two not above it.
    """
    if v <= 64:
        return v
    step = (1 << (v.bit_length() - 1)) // 4
    return -(-v // step) * step


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether ``x`` is channels_last and not also plain contiguous."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def check_supported(x: torch.Tensor, weight: torch.Tensor,
                    dtype: Optional[torch.dtype] = None) -> Optional[str]:
    """Why the Triton kernels cannot run this convolution, or None if they can.

    Args:
        x (Tensor): Input (N, C, H, W).
        weight (Tensor): Depthwise kernel (C, 1, kh, kw).
        dtype (torch.dtype, optional): Dtype both will be cast to first
            (autocast); None checks their own dtypes.

    Returns:
        str | None: A reason, or None when supported.
    """
    if x.dim() != 4 or weight.dim() != 4:
        return 'input and weight must be 4-D'
    c, one, kh, kw = weight.shape
    if x.shape[1] != c or one != 1:
        return f'weight {tuple(weight.shape)} is not depthwise for {x.shape[1]} channels'
    if kh % 2 == 0 or kw % 2 == 0 or max(kh, kw) > MAX_KERNEL:
        return f'kernel {kh}x{kw} must be odd and at most {MAX_KERNEL}'
    x_dtype, w_dtype = (x.dtype, weight.dtype) if dtype is None else (dtype, dtype)
    if x_dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return f'dtype {x_dtype} is not supported'
    if w_dtype != x_dtype:
        return f'weight dtype {w_dtype} differs from input dtype {x_dtype}'
    if x.shape[1] * x.shape[2] * x.shape[3] >= 2**31:
        return 'one sample has 2**31 elements or more'
    return None


@contextmanager
def kernel_config(fwd: Optional[dict] = None, wgrad: Optional[dict] = None,
                  splits: Optional[Tuple[int, int]] = None):
    """Force tile sizes and weight-gradient splits of whichever variant runs (tests, tuning).

    Args:
        fwd (dict, optional): ``BLOCK_C``, ``BLOCK_H``, ``BLOCK_W``, ``num_warps``
            (and optionally ``num_stages``) of the output / input-gradient kernel.
        wgrad (dict, optional): ``BLOCK_C``, ``BLOCK_W``, ``num_warps`` and, for
            ``direct``, optionally ``BLOCK_J``; for ``tc`` also ``BLOCK_R``.
        splits (tuple[int, int], optional): (samples, rows) per weight-gradient
            slice.
    """
    saved = dict(_OVERRIDES)
    _OVERRIDES.update({k: v for k, v in (('fwd', fwd), ('wgrad', wgrad), ('splits', splits))
                       if v is not None})
    try:
        yield
    finally:
        _OVERRIDES.clear()
        _OVERRIDES.update(saved)


# ----------------------------------------------------------------------------- configs
# The meta-parameters each kernel's configs set (the rest of its constexprs come from the call).
CONFIG_FIELDS = {'fwd': ('BLOCK_C', 'BLOCK_H', 'BLOCK_W'),
                 'wgrad_direct': ('BLOCK_C', 'BLOCK_W'),
                 'wgrad_window': ('BLOCK_C', 'BLOCK_R', 'BLOCK_W'),
                 'wgrad_tc': ('BLOCK_C', 'BLOCK_R', 'BLOCK_W')}
# Autotuning candidates: (*CONFIG_FIELDS values, num_warps) per (kernel, channels_last).
# NCHW tiles are one channel of rows x columns (coalesced along W), plus small multi-channel
# tiles for 7x7 and 14x14 maps; channels_last tiles are a channel block x a few pixels
# (coalesced along C). Tensor-core tiles need M (BLOCK_H rows, or the batch of rows BLOCK_R
# of the weight gradient) of 16 or more to fill an MMA.
CONFIG_ROWS = {
    ('fwd_direct', False): [(1, 8, 32, 2), (1, 16, 32, 4), (1, 16, 64, 4), (1, 16, 16, 2),
                            (1, 8, 8, 1), (4, 8, 8, 4)],
    ('fwd_direct', True): [(32, 1, 8, 2), (64, 1, 8, 4), (128, 1, 4, 4), (32, 2, 8, 4),
                           (64, 1, 4, 2)],
    ('wgrad_direct', False): [(1, 16, 2), (1, 32, 4), (2, 16, 4), (1, 8, 2), (4, 8, 4)],
    ('wgrad_direct', True): [(32, 4, 4), (64, 2, 4), (32, 8, 4), (64, 4, 8), (32, 2, 8),
                             (16, 2, 2)],
    ('fwd_window', False): [(1, 8, 32, 2), (1, 16, 32, 4), (1, 16, 16, 2), (2, 8, 16, 4)],
    ('fwd_window', True): [(32, 1, 8, 2), (64, 1, 8, 4), (32, 2, 8, 4), (16, 2, 16, 4)],
    ('wgrad_window', False): [(1, 2, 16, 2), (1, 4, 16, 4), (1, 4, 8, 4), (1, 2, 8, 2)],
    ('wgrad_window', True): [(32, 1, 2, 4), (32, 1, 4, 8), (16, 1, 4, 4), (16, 2, 2, 4)],
    ('fwd_tc', False): [(1, 32, 16, 2), (1, 64, 16, 4), (1, 64, 32, 4), (2, 32, 16, 4)],
    ('fwd_tc', True): [(16, 16, 16, 4), (8, 32, 16, 4), (8, 16, 16, 2), (4, 32, 16, 4)],
    ('wgrad_tc', False): [(1, 32, 16, 4), (1, 16, 16, 2), (1, 64, 16, 4), (1, 32, 32, 4)],
    ('wgrad_tc', True): [(8, 16, 16, 4), (4, 16, 16, 2), (16, 16, 8, 4), (4, 32, 16, 4)],
}
# fp32 values a thread may hold (accumulators and operands) before a config is pruned; the
# direct kernels keep their v1 limit.
_VALUES_PER_THREAD = {'direct': 32, 'window': 96, 'tc': 96}
# Software-pipelining stages of the tensor-core loops (each stage holds both tl.dot operands
# in shared memory) and the shared memory a config may plan for (sm_90 has 227 KiB).
TC_STAGES = 2
SHARED_LIMIT = 200 * 1024


def _fields(name: str) -> Tuple[str, ...]:
    return CONFIG_FIELDS['fwd' if name.startswith('fwd') else name]


def _configs() -> Dict[Tuple[str, bool], list]:
    """Triton configs per (kernel, channels_last) from :data:`CONFIG_ROWS`."""
    return {key: [triton.Config(dict(zip(_fields(key[0]), row[:-1])), num_warps=row[-1],
                                num_stages=TC_STAGES if key[0].endswith('_tc') else 3)
                  for row in rows] for key, rows in CONFIG_ROWS.items()}


def kw_bucket(kw: int) -> int:
    """``KWP``: the kernel width rounded up to a power of two, at least 2.

    The v2 kernels are compiled per bucket, not per width.
    """
    return max(2, triton.next_power_of_2(kw))


def segment_length(block_w: int, kwp: int) -> int:
    """The kernels' ``SEG`` for a tile width and ``KWP``: a power of two >= block_w + kwp - 1."""
    return 2 * max(block_w, kwp)


def register_values(name: str, blocks: dict, args: dict) -> int:
    """Rough count of fp32 values a program of kernel ``name`` keeps in registers.

    Args:
        name (str): Kernel name, e.g. 'fwd_tc' or 'wgrad_window'.
        blocks (dict): Its meta-parameters (``BLOCK_*``).
        args (dict): The call's arguments (``KW``, ``BLOCK_J``).
    """
    c, w = blocks['BLOCK_C'], blocks['BLOCK_W']
    kw = args.get('KWP') or kw_bucket(args['KW'])
    if name.startswith('fwd'):
        h = blocks['BLOCK_H']
        extra = {'fwd_direct': 0, 'fwd_window': c * h * segment_length(w, kw),
                 'fwd_tc': c * segment_length(w, kw) * (h + w) // 2}[name]
        return c * h * w + extra
    if name == 'wgrad_tc':
        r, seg = blocks['BLOCK_R'], segment_length(w, kw)
        return c * seg * w + c * r * (seg + w) // 2 + c * r * w
    j = args['BLOCK_J']
    if name == 'wgrad_window':
        r = blocks['BLOCK_R']
        return 3 * c * r * w * j + c * r * segment_length(w, j)
    return c * w * j


def tc_shared_bytes(name: str, blocks: dict, args: dict, itemsize: int) -> int:
    """Shared memory the pipelined tl.dot operands of a tensor-core config take.

    Args:
        name (str): 'fwd_tc' or 'wgrad_tc'.
        blocks (dict): Its meta-parameters (``BLOCK_*``).
        args (dict): The call's arguments (``KW`` or ``KWP``).
        itemsize (int): Bytes per operand element (2 for bf16/fp16, 4 for fp32).
    """
    c, w = blocks['BLOCK_C'], blocks['BLOCK_W']
    seg = segment_length(w, args.get('KWP') or kw_bucket(args['KW']))
    rows = blocks['BLOCK_H'] if name == 'fwd_tc' else blocks['BLOCK_R']
    return TC_STAGES * c * seg * (rows + w) * itemsize


def config_fits(name: str, blocks: dict, num_warps: int, args: dict, itemsize: int) -> bool:
    """Whether a config of kernel ``name`` stays within the register and shared-memory budget.

    Args:
        name (str): Kernel name, e.g. 'fwd_tc'.
        blocks (dict): The config's meta-parameters (``BLOCK_*``).
        num_warps (int): The config's warps.
        args (dict): The call's arguments (``KW``, ``KWP``, ``BLOCK_J``).
        itemsize (int): Bytes per input element.
    """
    per_thread = _VALUES_PER_THREAD[name.split('_')[1]]
    smem = tc_shared_bytes(name, blocks, args, itemsize) if name.endswith('_tc') else 0
    return register_values(name, blocks, args) / num_warps <= per_thread * 32 \
        and smem <= SHARED_LIMIT


def _prune(name, configs, named_args, **kwargs):
    """Drop configs whose channel block dwarfs C or that would not fit in registers/smem."""
    args = {**named_args, **kwargs}  # the autotuner passes keyword arguments separately
    max_c = 2 * max(16, triton.next_power_of_2(args['C']))
    itemsize = args['x_ptr'].element_size() if 'x_ptr' in args else 4
    kept = [cfg for cfg in configs if cfg.kwargs['BLOCK_C'] <= max_c
            and config_fits(name, cfg.kwargs, cfg.num_warps, args, itemsize)]
    # tests check that every kernel width keeps one; the cheapest is a last resort
    return kept or [min(configs, key=lambda cfg: register_values(name, cfg.kwargs, args)
                        / cfg.num_warps)]


def _bench_config(kernel_call, quantiles):
    """Short autotuning measurements: a new shape costs about 30 ms per config."""
    return triton.testing.do_bench(kernel_call, warmup=5, rep=25, quantiles=quantiles)


if triton is not None:
    _CONFIGS = _configs()
    KERNELS = {'fwd_direct': kernels.dw_fwd_direct_kernel,
               'wgrad_direct': kernels.dw_wgrad_direct_kernel,
               'fwd_window': kernels.dw_fwd_window_kernel,
               'wgrad_window': kernels.dw_wgrad_window_kernel,
               'fwd_tc': kernels.dw_fwd_tc_kernel,
               'wgrad_tc': kernels.dw_wgrad_tc_kernel}
    _SHAPE_KEY = ['C', 'KH', 'KW', 'HB', 'WB']
    _TUNED = {(name, cl): triton.autotune(
        cfgs, key=_SHAPE_KEY + (['BLOCK_J'] if name == 'wgrad_direct' else []),
        do_bench=_bench_config, cache_results=True,
        prune_configs_by={'early_config_prune': functools.partial(_prune, name)})(KERNELS[name])
        for (name, cl), cfgs in _CONFIGS.items()}


def _interpreter_config(name: str, args: dict) -> dict:
    """Whole-image tiles: the interpreter's cost grows with programs and loop trips."""
    def block(v):
        return min(64, triton.next_power_of_2(v))
    blocks = dict(BLOCK_C=block(args['C']), BLOCK_H=block(args['H']), BLOCK_W=block(args['W']),
                  BLOCK_R=block(args['H']))
    return {k: blocks[k] for k in _fields(name)}


@contextmanager
def compile_only(launches: list):
    """Compile the kernels a block of code would launch, without running them.

    Each launch is checked (its arguments must be exactly the kernel's, less
    the config's meta-parameters) and appended to ``launches`` as
    ``(kernel name, channels_last, autotuning key values)``; on CUDA tensors
    every config the autotuner keeps is then compiled (``Autotuner.warmup``),
    which fills Triton's on-disk cache, so that several processes can compile
    ahead of a benchmark. Outputs of the block are left uninitialised.

    Args:
        launches (list): Receives one entry per launch.
    """
    _OVERRIDES['compile_only'] = launches
    try:
        yield launches
    finally:
        _OVERRIDES.pop('compile_only', None)


def _plan_launch(name: str, channels_last: bool, grid, args: dict) -> None:
    """The compile-only form of :func:`_launch`."""
    fn = KERNELS[name]
    given = set(args) | set(_fields(name))
    if given != set(fn.arg_names):
        raise TypeError(f'{name}: arguments {sorted(given - set(fn.arg_names))} unknown, '
                        f'{sorted(set(fn.arg_names) - given)} missing')
    tuner = _TUNED[name, channels_last]
    _OVERRIDES['compile_only'].append((name, channels_last, tuple(args[k] for k in tuner.keys)))
    if args['x_ptr'].is_cuda and not _INTERPRET:
        tuner.warmup(**args, grid=grid)


def _launch(name: str, channels_last: bool, grid, args: dict) -> None:
    """Launch ``name`` with the forced config, autotuning, or whole-image tiles (interpreter)."""
    if 'compile_only' in _OVERRIDES:
        _plan_launch(name, channels_last, grid, args)
        return
    forced = _OVERRIDES.get(name.split('_')[0])
    if forced is None and _USE_AUTOTUNE:
        _TUNED[name, channels_last][grid](**args)
        return
    if forced is None:
        forced = _interpreter_config(name, args)
    blocks = {k: v for k, v in forced.items() if k in _fields(name)}
    stages = forced.get('num_stages', TC_STAGES if name.endswith('_tc') else 3)
    KERNELS[name][grid(blocks)](**args, **blocks, num_warps=forced.get('num_warps', 4),
                                num_stages=stages)


def _device_ctx(x: torch.Tensor):
    return torch.cuda.device(x.device) if x.is_cuda else nullcontext()


def _strides(prefix: str, t: torch.Tensor, dims: str) -> dict:
    """``{'stride_<prefix><dim>': stride}``, the kernels' names for ``t``'s strides."""
    return {f'stride_{prefix}{d}': int(s) for d, s in zip(dims, t.stride())}


def _kernel_view(weight: torch.Tensor, flip: bool, channels_last: bool) -> torch.Tensor:
    """The weight as (C, kh, kw), flipped if asked, channel-contiguous for channels_last."""
    w = weight.reshape(weight.shape[0], weight.shape[2], weight.shape[3])
    if flip:
        w = w.flip(1, 2)
    if channels_last:
        return w.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    return w.contiguous()


def _dot_args(dtype: torch.dtype) -> dict:
    """tl.dot settings of the tensor-core kernels for operands of ``dtype``."""
    # fp32 operands: three TF32 products (about fp32 accuracy); the interpreter multiplies
    # bf16 bit patterns in tl.dot (triton-lang/triton#11584), so it gets fp32 operands (exact).
    return dict(INPUT_PRECISION='tf32x3' if dtype == torch.float32 else 'tf32',
                UPCAST=_INTERPRET)


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f'Triton depthwise-conv variant must be one of {VARIANTS}, '
                         f'got {variant!r}')


def conv_forward(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 flip: bool = False, variant: str = 'direct') -> torch.Tensor:
    """Depthwise convolution with a Triton kernel (no autograd).

    Args:
        x (Tensor): Input (N, C, H, W), NCHW or channels_last (other strides
            are made contiguous); the output keeps the layout.
        weight (Tensor): Kernel (C, 1, kh, kw).
        bias (Tensor, optional): Bias (C,).
        flip (bool): Convolve with the kernel rotated by 180 degrees (input
            gradient).
        variant (str): 'direct', 'window' or 'tc'.

    Returns:
        Tensor: Output (N, C, H, W) in the input dtype.
    """
    _check_variant(variant)
    cl = is_channels_last(x)
    x = x.contiguous(memory_format=torch.channels_last if cl else torch.contiguous_format)
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    wk = _kernel_view(weight, flip, cl)
    y = torch.empty_like(x)
    args = dict(x_ptr=x, w_ptr=wk, b_ptr=bias if bias is not None else wk, y_ptr=y,
                C=c, H=h, W=w, KH=kh, KW=kw, HB=size_bucket(h), WB=size_bucket(w),
                HAS_BIAS=bias is not None, **_strides('x', x, 'nchw'), **_strides('y', y, 'nchw'),
                **_strides('w', wk, 'chw'))
    if variant != 'direct':
        args['KWP'] = kw_bucket(kw)
    if variant == 'tc':
        args.update(_dot_args(x.dtype))
    else:
        args['CHANNELS_LAST'] = cl

    def grid(meta):
        tiles = triton.cdiv(h, meta['BLOCK_H']) * triton.cdiv(w, meta['BLOCK_W'])
        return tiles, triton.cdiv(c, meta['BLOCK_C']), n

    with _device_ctx(x):
        _launch(f'fwd_{variant}', cl, grid, args)
    return y


def _num_sms(device: torch.device) -> int:
    if device.type != 'cuda':
        return 1
    return torch.cuda.get_device_properties(device).multi_processor_count


def wgrad_splits(n: int, c: int, h: int, kh: int, kw: int, block_j: int, cl: bool,
                 device: torch.device) -> Tuple[int, int]:
    """Samples and rows per weight-gradient slice, aiming at about 4 programs per SM.

    Args:
        n (int): Batch size.
        c (int): Channels.
        h (int): Height.
        kh (int): Kernel height.
        kw (int): Kernel width.
        block_j (int): Kernel columns per program.
        cl (bool): channels_last (programs then own blocks of channels).
        device (torch.device): Where the kernel runs.

    Returns:
        tuple[int, int]: (samples per slice, rows per slice).
    """
    if 'splits' in _OVERRIDES:
        return _OVERRIDES['splits']
    channel_blocks = triton.cdiv(c, 32) if cl else c
    programs = min(kh, 2 * h - 1) * triton.cdiv(kw, block_j) * channel_blocks
    slices = min(max(1, -(-4 * _num_sms(device) // programs)), n * h, 65535)
    n_slices = min(n, slices)
    n_chunk = -(-n // n_slices)
    h_slices = min(h, -(-slices // n_slices))
    return n_chunk, -(-h // h_slices)


def conv_weight_grad(x: torch.Tensor, grad_out: torch.Tensor, kernel_size: Tuple[int, int],
                     variant: str = 'direct', with_bias: bool = False
                     ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Weight (and bias) gradient of the depthwise convolution, accumulated in fp32.

    Args:
        x (Tensor): Input (N, C, H, W).
        grad_out (Tensor): Output gradient, same shape as ``x`` (brought to
            its layout).
        kernel_size (tuple[int, int]): (kh, kw).
        variant (str): 'direct', 'window' or 'tc'.
        with_bias (bool): Also return the bias gradient (summed in the kernel
            by 'window' and 'tc', by torch for 'direct').

    Returns:
        tuple[Tensor, Tensor | None]: fp32 gradients of shapes (C, 1, kh, kw)
        and (C,) (None unless ``with_bias``).
    """
    _check_variant(variant)
    n, c, h, w = x.shape
    kh, kw = kernel_size
    cl = is_channels_last(x)
    fmt = torch.channels_last if cl else torch.contiguous_format
    x, grad_out = x.contiguous(memory_format=fmt), grad_out.contiguous(memory_format=fmt)
    forced = _OVERRIDES.get('wgrad') or {}
    if variant == 'direct':
        block_j = forced.get('BLOCK_J', min(64, max(2, triton.next_power_of_2(kw))))
    else:
        block_j = kw_bucket(kw)  # one program per kernel row
    n_chunk, h_chunk = wgrad_splits(n, c, h, kh, kw, block_j, cl, x.device)
    slices = triton.cdiv(n, n_chunk) * triton.cdiv(h, h_chunk)
    # (S, C, kh, kw) view of a buffer laid out like the input: channels innermost for CL
    order = (0, 2, 3, 1) if cl else (0, 1, 2, 3)
    shape = (slices, c, kh, kw)
    # the tensor-core kernel writes only the taps that reach the image
    alloc = x.new_zeros if variant == 'tc' else x.new_empty
    part = alloc([shape[d] for d in order], dtype=torch.float32)
    part = part.permute([order.index(d) for d in range(4)])
    args = dict(x_ptr=x, g_ptr=grad_out, p_ptr=part, N=n, C=c, H=h, W=w, KH=kh, KW=kw,
                N_CHUNK=n_chunk, H_CHUNK=h_chunk, HB=size_bucket(h), WB=size_bucket(w),
                **_strides('x', x, 'nchw'), **_strides('g', grad_out, 'nchw'),
                **_strides('p', part, 'schw'))
    fused_bias = with_bias and variant != 'direct'
    part_bias = x.new_empty((slices, c), dtype=torch.float32) if fused_bias else None
    if variant == 'direct':
        args.update(BLOCK_J=block_j, CHANNELS_LAST=cl)
        taps = kh * triton.cdiv(kw, block_j)
    else:
        args.update(pb_ptr=part_bias if fused_bias else part, HAS_BIAS=fused_bias,
                    **_strides('pb', part_bias if fused_bias else part[:, :, 0, 0], 'sc'))
        args.update(dict(_dot_args(x.dtype), KWP=block_j) if variant == 'tc'
                    else dict(BLOCK_J=block_j))
        taps = kh

    def grid(meta):
        return taps, triton.cdiv(c, meta['BLOCK_C']), slices

    with _device_ctx(x):
        _launch(f'wgrad_{variant}', cl, grid, args)
    grad_w = part.sum(0).reshape(c, 1, kh, kw)
    if not with_bias:
        return grad_w, None
    if fused_bias:
        return grad_w, part_bias.sum(0)
    return grad_w, grad_out.sum((0, 2, 3), dtype=torch.float32)


def flops(n: int, c: int, h: int, w: int, kh: int, kw: int) -> int:
    """Multiply-add FLOPs of one forward pass (2 per tap per output element)."""
    return 2 * n * c * h * w * kh * kw


__all__ = ['conv_forward', 'conv_weight_grad', 'compile_only', 'triton_available',
           'interpreter_enabled', 'interpret_flag', 'check_supported', 'kernel_config',
           'size_bucket', 'flops', 'is_channels_last', 'wgrad_splits', 'register_values',
           'tc_shared_bytes', 'config_fits', 'kw_bucket', 'segment_length',
           'VARIANTS', 'KERNEL_VERSION']
