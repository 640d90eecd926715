"""Triton kernels for stride-1, "same"-padded depthwise 2-D convolution.

Design:

* One direct-convolution kernel serves the forward pass and the input gradient
  (the input gradient is the same convolution of the output gradient with the
  flipped kernel). A program computes an output tile of
  ``BLOCK_C x BLOCK_H x BLOCK_W`` (channels x rows x columns) of one sample in
  fp32 and loops over the kernel taps at run time. The tap loops are clamped to
  the taps that reach the image from this tile, so a 51x51 kernel on a 7x7 map
  costs at most 13x13 taps per tile instead of 2601.
* Strides are kernel arguments, so NCHW and channels_last both run natively.
  Triton specialises unit strides, so loads coalesce along W for NCHW (tiles of
  one channel, ``BLOCK_C == 1``) and along C for channels_last (tiles of a
  channel block times a few pixels, whose per-tap loads stay 16-byte aligned).
  For channels_last the weight is passed channel-contiguous so its per-tap load
  is one vector, and per-channel operands (weights, output gradient) are loaded
  through full-tile pointers so that no loop iteration needs a shared-memory
  layout conversion (checked on sm_90 code by tests/test_ops_dwconv.py).
* The weight gradient is computed as a convolution whose "output" is the kernel:
  a program owns a block of taps ``(row i, BLOCK_J columns)`` for a block of
  channels and accumulates ``x[h + i - p, w + j - q] * g[h, w]`` over a slice of
  the batch and rows in a ``BLOCK_C x BLOCK_W x BLOCK_J`` fp32 tile, reduced once
  at the end. Slices ("splits") write fp32 partial sums that are added by torch,
  which keeps the result deterministic.
* Autotuning (Triton's autotuner, one per kernel and layout) is keyed on
  channels, kernel size and bucketed spatial size, so variable input sizes
  (detection) do not retune on every new shape.

Import never fails: without Triton the module only reports
:func:`triton_available` as False. Kernels are compiled for the GPU unless
``TRITON_INTERPRET=1`` was set before this module was imported, in which case
they run on CPU tensors through Triton's interpreter (slow; for tests).
"""
import os
from contextlib import contextmanager, nullcontext
from typing import Dict, Optional, Tuple

import torch

try:
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001 - any import failure means "no Triton"
    triton = None
    tl = None


def interpret_flag() -> bool:
    """Triton's own reading of TRITON_INTERPRET (what ``triton.jit`` sees right now)."""
    knobs = getattr(triton, 'knobs', None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get('TRITON_INTERPRET', '0').lower() in ('1', 'true', 'on', 'yes')


_INTERPRET = triton is not None and interpret_flag()
MAX_KERNEL = 63
# Bump when kernels change so that persisted dispatch decisions are re-measured.
KERNEL_VERSION = 1
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
    """Force kernel tile sizes and weight-gradient splits (tests and tuning).

    Args:
        fwd (dict, optional): ``BLOCK_C``, ``BLOCK_H``, ``BLOCK_W``, ``num_warps``.
        wgrad (dict, optional): ``BLOCK_C``, ``BLOCK_W``, ``num_warps`` and
            optionally ``BLOCK_J``.
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


# ----------------------------------------------------------------------------- kernels
if triton is not None:

    @triton.jit
    def _tap_range(o0, BLOCK: tl.constexpr, size, K):
        """Taps [lo, hi) of a size-K kernel that reach the input from outputs o0..o0+BLOCK-1."""
        pad = K // 2
        o_last = tl.minimum(o0 + BLOCK - 1, size - 1)
        lo = tl.maximum(pad - o_last, 0)
        hi = tl.minimum(pad + size - o0, K)
        return lo, hi

    @triton.jit
    def _dw_fwd_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, KH, KW,
                       sxn, sxc, sxh, sxw, syn, syc, syh, syw, swc, swh, sww,
                       HB, WB, CHANNELS_LAST: tl.constexpr,
                       HAS_BIAS: tl.constexpr, BLOCK_C: tl.constexpr,
                       BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr):
        """y[n, c, h, w] = sum_ij x[n, c, h + i - KH//2, w + j - KW//2] * w[c, i, j] (+ b[c]).

        HB and WB (bucketed sizes) only key the autotuner. With CHANNELS_LAST the weight
        pointers span the whole tile so that weights load in the x tile's layout; a
        (BLOCK_C,) load would need a shared-memory layout conversion per tap.
        """
        pid_hw = tl.program_id(0)
        n_wb = tl.cdiv(W, BLOCK_W)
        h0 = (pid_hw // n_wb) * BLOCK_H
        w0 = (pid_hw % n_wb) * BLOCK_W
        n = tl.program_id(2).to(tl.int64)
        offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        cc = offs_c[:, None, None]
        hh = (h0 + tl.arange(0, BLOCK_H))[None, :, None]
        ww = (w0 + tl.arange(0, BLOCK_W))[None, None, :]
        c_ok = cc < C
        ph = KH // 2
        pw = KW // 2
        # int32 offsets of tap (0, 0) within the sample; tap (i, j) adds i * sxh + j * sxw
        x_n = x_ptr + n * sxn
        x_off = cc * sxc + (hh - ph) * sxh + (ww - pw) * sxw
        if CHANNELS_LAST:
            w_off = cc * swc + (hh + ww) * 0
            w_ok = c_ok
        else:
            w_off = offs_c * swc
            w_ok = offs_c < C
        i_lo, i_hi = _tap_range(h0, BLOCK_H, H, KH)
        j_lo, j_hi = _tap_range(w0, BLOCK_W, W, KW)
        acc = tl.zeros((BLOCK_C, BLOCK_H, BLOCK_W), dtype=tl.float32)
        for i in range(i_lo, i_hi):
            ih = hh + (i - ph)
            row_ok = c_ok & (ih >= 0) & (ih < H)
            for j in range(j_lo, j_hi):
                iw = ww + (j - pw)
                xv = tl.load(x_n + (x_off + (i * sxh + j * sxw)),
                             mask=row_ok & (iw >= 0) & (iw < W), other=0.0)
                wv = tl.load(w_ptr + (w_off + (i * swh + j * sww)), mask=w_ok, other=0.0)
                if not CHANNELS_LAST:
                    wv = wv[:, None, None]
                acc += xv.to(tl.float32) * wv.to(tl.float32)
        if HAS_BIAS:
            bv = tl.load(b_ptr + offs_c, mask=offs_c < C, other=0.0).to(tl.float32)
            acc += bv[:, None, None]
        y_ptrs = y_ptr + n * syn + (cc * syc + hh * syh + ww * syw)
        tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=c_ok & (hh < H) & (ww < W))

    @triton.jit
    def _dw_wgrad_kernel(x_ptr, g_ptr, p_ptr, N, C, H, W, KH, KW, N_CHUNK, H_CHUNK,
                         sxn, sxc, sxh, sxw, sgn, sgc, sgh, sgw, sps, spc, sph, spw,
                         HB, WB, CHANNELS_LAST: tl.constexpr,
                         BLOCK_J: tl.constexpr, BLOCK_C: tl.constexpr,
                         BLOCK_W: tl.constexpr):
        """p[s, c, i, j] = sum over slice s of x[n, c, h + i - KH//2, w + j - KW//2] g[n, c, h, w].

        Program (i * n_jb + jb, c block, slice s) owns taps (i, jb * BLOCK_J + [0, BLOCK_J)).
        With CHANNELS_LAST the g pointers span the taps axis too, which keeps the x tile
        in its loaded layout (else it is converted through shared memory every step).
        """
        pid_t = tl.program_id(0)
        n_jb = tl.cdiv(KW, BLOCK_J)
        i = pid_t // n_jb
        j0 = (pid_t % n_jb) * BLOCK_J
        pid_s = tl.program_id(2)
        n_hs = tl.cdiv(H, H_CHUNK)
        n_lo = ((pid_s // n_hs) * N_CHUNK).to(tl.int64)  # 64-bit sample offsets
        n_hi = tl.minimum(n_lo + N_CHUNK, N)
        hc0 = (pid_s % n_hs) * H_CHUNK
        ph = KH // 2
        pw = KW // 2
        # output rows whose input row h + i - ph is inside the image, within this slice
        h_lo = tl.maximum(tl.maximum(ph - i, 0), hc0)
        h_hi = tl.minimum(tl.minimum(H + ph - i, H), hc0 + H_CHUNK)
        # output columns reached by at least one tap of the block
        w_lo = tl.maximum(pw - (tl.minimum(j0 + BLOCK_J, KW) - 1), 0)
        w_hi = tl.minimum(W + pw - j0, W)
        offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        cc = offs_c[:, None, None]
        wr = tl.arange(0, BLOCK_W)[None, :, None]
        jj = (j0 + tl.arange(0, BLOCK_J))[None, None, :]
        cj_ok = (cc < C) & (jj < KW)
        x_off = cc * sxc + (i - ph) * sxh + (wr + jj - pw) * sxw
        if CHANNELS_LAST:
            g_off = cc * sgc + wr * sgw + jj * 0
        else:
            g_off = cc * sgc + wr * sgw
        acc = tl.zeros((BLOCK_C, BLOCK_W, BLOCK_J), dtype=tl.float32)
        for n in range(n_lo, n_hi):
            x_n = x_ptr + n * sxn
            g_n = g_ptr + n * sgn
            for h in range(h_lo, h_hi):
                for w0 in range(w_lo, w_hi, BLOCK_W):
                    ow = w0 + wr
                    iw = ow + jj - pw
                    g_ok = (cc < C) & (ow < w_hi)
                    if CHANNELS_LAST:
                        g_ok = g_ok & (jj >= 0)
                    xv = tl.load(x_n + (x_off + (h * sxh + w0 * sxw)),
                                 mask=g_ok & cj_ok & (iw >= 0) & (iw < W), other=0.0)
                    gv = tl.load(g_n + (g_off + (h * sgh + w0 * sgw)), mask=g_ok, other=0.0)
                    acc += xv.to(tl.float32) * gv.to(tl.float32)
        part = tl.sum(acc, axis=1)
        c2 = offs_c[:, None]
        j2 = (j0 + tl.arange(0, BLOCK_J))[None, :]
        p_ptrs = p_ptr + pid_s.to(tl.int64) * sps + (c2 * spc + i * sph + j2 * spw)
        tl.store(p_ptrs, part, mask=(c2 < C) & (j2 < KW))


# ----------------------------------------------------------------------------- configs
def _cfg(num_warps: int, **blocks):
    return triton.Config(blocks, num_warps=num_warps)


def _configs() -> Dict[Tuple[str, bool], list]:
    """Autotuning candidates per (kernel, channels_last)."""
    # (BLOCK_C, BLOCK_H, BLOCK_W, num_warps): NCHW tiles are one channel, rows x columns
    # (coalesced along W), plus small multi-channel tiles for 7x7 and 14x14 maps;
    # channels_last tiles are a channel block x a few pixels (coalesced along C).
    fwd_nchw = [(1, 8, 32, 2), (1, 16, 32, 4), (1, 16, 64, 4), (1, 16, 16, 2), (1, 8, 8, 1),
                (4, 8, 8, 4)]
    fwd_cl = [(32, 1, 8, 2), (64, 1, 8, 4), (128, 1, 4, 4), (32, 2, 8, 4), (64, 1, 4, 2)]
    # (BLOCK_C, BLOCK_W, num_warps); BLOCK_J (kernel columns) is set by the caller
    wgrad_nchw = [(1, 16, 2), (1, 32, 4), (2, 16, 4), (1, 8, 2), (4, 8, 4)]
    wgrad_cl = [(32, 4, 4), (64, 2, 4), (32, 8, 4), (64, 4, 8), (32, 2, 8), (16, 2, 2)]

    def fwd(rows):
        return [_cfg(w, BLOCK_C=c, BLOCK_H=h, BLOCK_W=ww) for c, h, ww, w in rows]

    def wgrad(rows):
        return [_cfg(w, BLOCK_C=c, BLOCK_W=ww) for c, ww, w in rows]

    return {('fwd', False): fwd(fwd_nchw), ('fwd', True): fwd(fwd_cl),
            ('wgrad', False): wgrad(wgrad_nchw), ('wgrad', True): wgrad(wgrad_cl)}


def _tile_size(cfg) -> int:
    blocks = cfg.kwargs
    return blocks['BLOCK_C'] * blocks.get('BLOCK_H', 1) * blocks['BLOCK_W']


def _prune(configs, named_args, **kwargs):
    """Drop configs whose channel block dwarfs C or with over 32 fp32 accumulators a thread."""
    args = {**named_args, **kwargs}  # the autotuner passes keyword arguments separately
    max_c = 2 * max(16, triton.next_power_of_2(args['C']))
    block_j = args.get('BLOCK_J', 1)
    kept = [cfg for cfg in configs if cfg.kwargs['BLOCK_C'] <= max_c
            and _tile_size(cfg) * block_j <= 32 * 32 * cfg.num_warps]
    return kept or [min(configs, key=_tile_size)]


def _bench_config(kernel_call, quantiles):
    """Short autotuning measurements: a new shape costs about 30 ms per config."""
    return triton.testing.do_bench(kernel_call, warmup=5, rep=25, quantiles=quantiles)


if triton is not None:
    _CONFIGS = _configs()
    _KERNELS = {'fwd': _dw_fwd_kernel, 'wgrad': _dw_wgrad_kernel}
    _KEYS = {'fwd': ['C', 'KH', 'KW', 'HB', 'WB'],
             'wgrad': ['C', 'KH', 'KW', 'HB', 'WB', 'BLOCK_J']}
    _TUNED = {(name, cl): triton.autotune(cfgs, key=_KEYS[name], do_bench=_bench_config,
                                          cache_results=True,
                                          prune_configs_by={'early_config_prune': _prune})(
                                              _KERNELS[name])
              for (name, cl), cfgs in _CONFIGS.items()}


def _interpreter_config(args: dict) -> dict:
    """Whole-image tiles: the interpreter's cost grows with programs and loop trips."""
    def block(v):
        return min(64, triton.next_power_of_2(v))
    return dict(BLOCK_C=block(args['C']), BLOCK_H=block(args['H']), BLOCK_W=block(args['W']))


def _launch(name: str, channels_last: bool, grid, args: dict) -> None:
    """Launch ``name`` with the forced config, autotuning, or whole-image tiles (interpreter)."""
    forced = _OVERRIDES.get(name)
    if forced is None and _USE_AUTOTUNE:
        _TUNED[name, channels_last][grid](**args)
        return
    if forced is None:
        forced = _interpreter_config(args)
    blocks = {k: v for k, v in forced.items() if k.startswith('BLOCK_') and k != 'BLOCK_J'}
    if name == 'wgrad':
        blocks.pop('BLOCK_H', None)
    _KERNELS[name][grid(blocks)](**args, **blocks, num_warps=forced.get('num_warps', 4))


def _device_ctx(x: torch.Tensor):
    return torch.cuda.device(x.device) if x.is_cuda else nullcontext()


def _strides(t: torch.Tensor) -> Tuple[int, ...]:
    return tuple(int(s) for s in t.stride())


def _kernel_view(weight: torch.Tensor, flip: bool, channels_last: bool) -> torch.Tensor:
    """The weight as (C, kh, kw), flipped if asked, channel-contiguous for channels_last."""
    w = weight.reshape(weight.shape[0], weight.shape[2], weight.shape[3])
    if flip:
        w = w.flip(1, 2)
    if channels_last:
        return w.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    return w.contiguous()


def conv_forward(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 flip: bool = False) -> torch.Tensor:
    """Depthwise convolution with the Triton kernel (no autograd).

    Args:
        x (Tensor): Input (N, C, H, W), NCHW or channels_last; the output keeps
            the layout.
        weight (Tensor): Kernel (C, 1, kh, kw).
        bias (Tensor, optional): Bias (C,).
        flip (bool): Convolve with the kernel rotated by 180 degrees (input
            gradient).

    Returns:
        Tensor: Output (N, C, H, W) in the input dtype.
    """
    n, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    cl = is_channels_last(x)
    wk = _kernel_view(weight, flip, cl)
    y = torch.empty_like(x)
    args = dict(x_ptr=x, w_ptr=wk, b_ptr=bias if bias is not None else wk, y_ptr=y,
                C=c, H=h, W=w, KH=kh, KW=kw)
    args.update(zip(('sxn', 'sxc', 'sxh', 'sxw'), _strides(x)))
    args.update(zip(('syn', 'syc', 'syh', 'syw'), _strides(y)))
    args.update(zip(('swc', 'swh', 'sww'), _strides(wk)))
    args.update(HB=size_bucket(h), WB=size_bucket(w), CHANNELS_LAST=cl, HAS_BIAS=bias is not None)

    def grid(meta):
        tiles = triton.cdiv(h, meta['BLOCK_H']) * triton.cdiv(w, meta['BLOCK_W'])
        return tiles, triton.cdiv(c, meta['BLOCK_C']), n

    with _device_ctx(x):
        _launch('fwd', cl, grid, args)
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
        cl (bool): channels_last (programs then own 32 or more channels).
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


def conv_weight_grad(x: torch.Tensor, grad_out: torch.Tensor, kernel_size: Tuple[int, int]
                     ) -> torch.Tensor:
    """Weight gradient of the depthwise convolution, accumulated in fp32.

    Args:
        x (Tensor): Input (N, C, H, W).
        grad_out (Tensor): Output gradient, same shape and layout as ``x``.
        kernel_size (tuple[int, int]): (kh, kw).

    Returns:
        Tensor: fp32 gradient of shape (C, 1, kh, kw).
    """
    n, c, h, w = x.shape
    kh, kw = kernel_size
    cl = is_channels_last(x)
    forced = _OVERRIDES.get('wgrad') or {}
    block_j = forced.get('BLOCK_J', min(64, max(2, triton.next_power_of_2(kw))))
    n_chunk, h_chunk = wgrad_splits(n, c, h, kh, kw, block_j, cl, x.device)
    slices = triton.cdiv(n, n_chunk) * triton.cdiv(h, h_chunk)
    # (S, C, kh, kw) view of a buffer laid out like the input: channels innermost for CL
    order = (0, 2, 3, 1) if cl else (0, 1, 2, 3)
    shape = (slices, c, kh, kw)
    part = x.new_empty([shape[d] for d in order], dtype=torch.float32)
    part = part.permute([order.index(d) for d in range(4)])
    args = dict(x_ptr=x, g_ptr=grad_out, p_ptr=part, N=n, C=c, H=h, W=w, KH=kh, KW=kw,
                N_CHUNK=n_chunk, H_CHUNK=h_chunk)
    args.update(zip(('sxn', 'sxc', 'sxh', 'sxw'), _strides(x)))
    args.update(zip(('sgn', 'sgc', 'sgh', 'sgw'), _strides(grad_out)))
    args.update(zip(('sps', 'spc', 'sph', 'spw'), _strides(part)))
    args.update(HB=size_bucket(h), WB=size_bucket(w), BLOCK_J=block_j, CHANNELS_LAST=cl)

    def grid(meta):
        return kh * triton.cdiv(kw, block_j), triton.cdiv(c, meta['BLOCK_C']), slices

    with _device_ctx(x):
        _launch('wgrad', cl, grid, args)
    return part.sum(0).reshape(c, 1, kh, kw)


class TritonDepthwiseConv2d(torch.autograd.Function):
    """Autograd wrapper of the Triton depthwise convolution (stride 1, "same" padding)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        fmt = torch.channels_last if is_channels_last(x) else torch.contiguous_format
        x = x.contiguous(memory_format=fmt)
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        ctx.fmt = fmt
        return conv_forward(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        grad_out = grad_out.contiguous(memory_format=ctx.fmt)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = conv_forward(grad_out, weight, None, flip=True)
        if ctx.needs_input_grad[1]:
            grad_w = conv_weight_grad(x, grad_out, weight.shape[-2:]).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3), dtype=torch.float32).to(weight.dtype)
        return grad_x, grad_w, grad_b


def cast_floating(t: Optional[torch.Tensor], dtype: Optional[torch.dtype]
                  ) -> Optional[torch.Tensor]:
    """``t`` cast to ``dtype`` if both are given and ``t`` is floating point."""
    if t is None or dtype is None or not t.is_floating_point():
        return t
    return t.to(dtype)


def _autocast_inputs(x, weight, bias):
    """Cast to the autocast dtype like ``F.conv2d`` does (conv runs in lower precision)."""
    device_type = x.device.type
    if not torch.is_autocast_enabled(device_type):
        return x, weight, bias, False
    dtype = torch.get_autocast_dtype(device_type)
    return cast_floating(x, dtype), cast_floating(weight, dtype), cast_floating(bias, dtype), True


def triton_depthwise_conv2d(x: torch.Tensor, weight: torch.Tensor,
                            bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Depthwise convolution, stride 1, "same" zero padding, with Triton kernels.

    Args:
        x (Tensor): Input (N, C, H, W), NCHW or channels_last, fp32/fp16/bf16.
        weight (Tensor): Kernel (C, 1, kh, kw), kh and kw odd, at most 63.
        bias (Tensor, optional): Bias (C,).

    Returns:
        Tensor: Output (N, C, H, W) in the (autocast) input dtype and layout.
    """
    if triton is None:
        raise RuntimeError('triton_depthwise_conv2d needs the triton package')
    x, weight, bias, autocast = _autocast_inputs(x, weight, bias)
    reason = check_supported(x, weight)
    if reason is not None:
        raise ValueError(f'triton_depthwise_conv2d: {reason}')
    if not x.is_cuda and not _INTERPRET:
        raise RuntimeError('triton_depthwise_conv2d needs CUDA tensors, or TRITON_INTERPRET=1 '
                           'set before lkssl_mm.ops.dwconv_triton is imported')
    if x.numel() == 0:
        return torch.nn.functional.conv2d(x, weight, bias, 1, (weight.shape[2] // 2,
                                                              weight.shape[3] // 2), 1, x.shape[1])
    if autocast:
        with torch.autocast(x.device.type, enabled=False):
            return TritonDepthwiseConv2d.apply(x, weight, bias)
    return TritonDepthwiseConv2d.apply(x, weight, bias)


def flops(n: int, c: int, h: int, w: int, kh: int, kw: int) -> int:
    """Multiply-add FLOPs of one forward pass (2 per tap per output element)."""
    return 2 * n * c * h * w * kh * kw


__all__ = ['TritonDepthwiseConv2d', 'triton_depthwise_conv2d', 'triton_available',
           'interpreter_enabled', 'check_supported', 'kernel_config', 'size_bucket', 'flops',
           'cast_floating', 'is_channels_last',
           'KERNEL_VERSION']
