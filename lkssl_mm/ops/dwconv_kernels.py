"""Triton kernels for stride-1, "same"-padded depthwise 2-D convolution.

The host side (tiles, autotuning, launches) is :mod:`lkssl_mm.ops.dwconv_triton`,
autograd and the custom op :mod:`lkssl_mm.ops.dwconv_op`; this file holds only
``@triton.jit`` code.
Every kernel computes in fp32 and reads any strides, so NCHW and channels_last
run natively (Triton specialises unit strides: loads coalesce along W for NCHW,
along C for channels_last). Three families, each a pair (output kernel, weight
gradient kernel); the output kernel also computes the input gradient, which is
the same convolution of the output gradient with the kernel rotated by 180
degrees (the host passes the flipped kernel):

``direct`` (v1, ``impl='triton'``)
    A program owns a ``BLOCK_C x BLOCK_H x BLOCK_W`` output tile and loops over
    the taps at run time; each tap is one (L1-cached) load of the input tile
    and one multiply-add per output, so the kernel is load-bound. The weight
    gradient treats the kernel as the "output": a program owns taps
    ``(row i, BLOCK_J columns)`` of ``BLOCK_C`` channels and reduces
    ``x[h + i - p, w + j - q] * g[h, w]`` over a slice of the batch and rows.

``window`` (v2, input reuse on CUDA cores, ``impl='triton_window'``)
    Per kernel row, the input row segment that the tile's ``KW`` taps touch,
    ``BLOCK_W + KW - 1`` values (padded to ``SEG = 2 * max(BLOCK_W, KWP)``, with
    ``KWP`` the width rounded up to a power of two), is loaded once; each tap
    takes its shifted ``BLOCK_W`` window out of that segment with ``tl.gather``
    (register shuffles or shared memory, not global loads). So every loaded
    input value serves all taps that touch it. The weight
    gradient does the same with a ``BLOCK_W + BLOCK_J - 1`` segment per
    output-gradient row block.

``tc`` (v2, tensor cores, ``impl='triton_tc'``)
    Per channel and kernel row ``i``, an output row block is a GEMM: the
    ``BLOCK_H x SEG`` matrix of input row segments times the banded (Toeplitz)
    ``SEG x BLOCK_W`` matrix ``T_i[s, w] = k[i, s - w]`` (zero outside
    ``0 <= s - w < KW``), accumulated in fp32 with ``tl.dot`` over the kernel
    rows; channel blocks are the batch dimension of a 3-D ``tl.dot``. The band
    wastes ``SEG / KW`` of the multiply-adds (2-3.6x), which tensor cores pay
    for easily; each input value is loaded once per kernel row instead of once
    per tap. bf16/fp16 operands run natively; fp32 operands use ``tf32x3``
    (three TF32 products, about fp32 accuracy). The weight gradient is the
    GEMM ``P = A^T G`` of input segments ``A[r, s]`` and output-gradient rows
    ``G[r, w]`` reduced over rows ``r = (n, h)`` and column blocks (the K
    dimension), after which ``dk[i, j] = sum_w P[w + j, w]`` (a diagonal sum).

Shared conventions: tap loops are clamped to the taps that reach the image
from the tile (a 51x51 kernel on a 7x7 map costs at most 13x13 taps); ``HB``
and ``WB`` are bucketed sizes that only key the autotuner; weight-gradient
programs write fp32 partial sums per batch/row slice that the host adds
(deterministic). The v2 weight-gradient kernels also produce the bias
gradient: the programs of the central kernel row see every output-gradient
value of their slice once, so they sum it on the way (``HAS_BIAS``).
Importing this module needs Triton; :mod:`dwconv_triton` imports it only when
Triton is installed.
"""
import triton
import triton.language as tl


@triton.jit
def _tap_range(o0, BLOCK: tl.constexpr, size, K):
    """Taps [lo, hi) of a size-K kernel that reach the input from outputs o0..o0+BLOCK-1."""
    pad = K // 2
    o_last = tl.minimum(o0 + BLOCK - 1, size - 1)
    lo = tl.maximum(pad - o_last, 0)
    hi = tl.minimum(pad + size - o0, K)
    return lo, hi


@triton.jit
def _output_tile(C, W, BLOCK_C: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr):
    """This program's sample n (int64), tile origin (h0, w0) and (c, h, w) index tensors.

    Grid: (row/column tiles, channel blocks, samples); the index tensors have shapes
    (BLOCK_C, 1, 1), (1, BLOCK_H, 1) and (1, 1, BLOCK_W).
    """
    pid_hw = tl.program_id(0)
    n_wb = tl.cdiv(W, BLOCK_W)
    h0 = (pid_hw // n_wb) * BLOCK_H
    w0 = (pid_hw % n_wb) * BLOCK_W
    n = tl.program_id(2).to(tl.int64)
    cc = (tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C))[:, None, None]
    hh = (h0 + tl.arange(0, BLOCK_H))[None, :, None]
    ww = (w0 + tl.arange(0, BLOCK_W))[None, None, :]
    return n, h0, w0, cc, hh, ww


@triton.jit
def _store_output(y_ptr, n, cc, hh, ww, acc, b_ptr, C, H, W,
                  stride_yn, stride_yc, stride_yh, stride_yw, HAS_BIAS: tl.constexpr):
    """Add the bias (if any) to the fp32 tile and store it in y's dtype."""
    if HAS_BIAS:
        acc += tl.load(b_ptr + cc, mask=cc < C, other=0.0).to(tl.float32)
    y_ptrs = y_ptr + n * stride_yn + (cc * stride_yc + hh * stride_yh + ww * stride_yw)
    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=(cc < C) & (hh < H) & (ww < W))


@triton.jit
def _tap_weight_offsets(cc, hh, ww, C, stride_wc, BLOCK_C: tl.constexpr,
                        CHANNELS_LAST: tl.constexpr):
    """Offsets and mask of tap (0, 0)'s weights for the output tile of :func:`_output_tile`.

    With CHANNELS_LAST the offsets span the whole tile so that weights load in the x
    tile's layout (a (BLOCK_C,) load would need a shared-memory layout conversion per
    tap); for NCHW they are one per channel of the tile.
    """
    if CHANNELS_LAST:
        w_off = cc * stride_wc + (hh + ww) * 0
        w_ok = cc < C
    else:
        offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
        w_off = offs_c * stride_wc
        w_ok = offs_c < C
    return w_off, w_ok


@triton.jit
def _tap_weight(w_ptr, w_off, w_ok, tap_off, CHANNELS_LAST: tl.constexpr):
    """The fp32 weight of one tap (offset ``tap_off``), broadcastable against the tile."""
    wv = tl.load(w_ptr + (w_off + tap_off), mask=w_ok, other=0.0)
    if not CHANNELS_LAST:
        wv = wv[:, None, None]
    return wv.to(tl.float32)


# ============================================================================= direct (v1)
@triton.jit
def dw_fwd_direct_kernel(
        x_ptr,  # input (N, C, H, W), any strides
        w_ptr,  # kernel (C, KH, KW): channel-contiguous when CHANNELS_LAST
        b_ptr,  # bias (C,); read only when HAS_BIAS
        y_ptr,  # output, shape of x
        C, H, W,  # channels, height, width
        KH, KW,  # kernel height and width (odd)
        stride_xn, stride_xc, stride_xh, stride_xw,  # x strides, in elements
        stride_yn, stride_yc, stride_yh, stride_yw,  # y strides
        stride_wc, stride_wh, stride_ww,  # kernel strides
        HB, WB,  # bucketed H and W: autotuning key only
        CHANNELS_LAST: tl.constexpr,  # x, y are channels_last: C is the unit-stride axis
        HAS_BIAS: tl.constexpr,  # add b_ptr's bias
        BLOCK_C: tl.constexpr,  # channels per tile
        BLOCK_H: tl.constexpr,  # rows per tile
        BLOCK_W: tl.constexpr):  # columns per tile
    """y[n, c, h, w] = sum_ij x[n, c, h + i - KH//2, w + j - KW//2] * k[c, i, j] (+ b[c]).

    One load of the input tile per tap (and one of the tap's weight).
    """
    n, h0, w0, cc, hh, ww = _output_tile(C, W, BLOCK_C, BLOCK_H, BLOCK_W)
    c_ok = cc < C
    ph = KH // 2
    pw = KW // 2
    # int32 offsets of tap (0, 0) within the sample; tap (i, j) adds i * stride_xh + j * stride_xw
    x_n = x_ptr + n * stride_xn
    x_off = cc * stride_xc + (hh - ph) * stride_xh + (ww - pw) * stride_xw
    w_off, w_ok = _tap_weight_offsets(cc, hh, ww, C, stride_wc, BLOCK_C, CHANNELS_LAST)
    i_lo, i_hi = _tap_range(h0, BLOCK_H, H, KH)
    j_lo, j_hi = _tap_range(w0, BLOCK_W, W, KW)
    acc = tl.zeros((BLOCK_C, BLOCK_H, BLOCK_W), dtype=tl.float32)
    for i in range(i_lo, i_hi):
        ih = hh + (i - ph)
        row_ok = c_ok & (ih >= 0) & (ih < H)
        for j in range(j_lo, j_hi):
            iw = ww + (j - pw)
            xv = tl.load(x_n + (x_off + (i * stride_xh + j * stride_xw)),
                         mask=row_ok & (iw >= 0) & (iw < W), other=0.0)
            wv = _tap_weight(w_ptr, w_off, w_ok, i * stride_wh + j * stride_ww, CHANNELS_LAST)
            acc += xv.to(tl.float32) * wv
    _store_output(y_ptr, n, cc, hh, ww, acc, b_ptr, C, H, W,
                  stride_yn, stride_yc, stride_yh, stride_yw, HAS_BIAS)


@triton.jit
def dw_wgrad_direct_kernel(
        x_ptr,  # input (N, C, H, W), any strides
        g_ptr,  # output gradient, shape of x
        p_ptr,  # fp32 partial kernel gradients (S, C, KH, KW), one per slice
        N, C, H, W,  # batch, channels, height, width
        KH, KW,  # kernel height and width (odd)
        N_CHUNK, H_CHUNK,  # samples and rows per slice
        stride_xn, stride_xc, stride_xh, stride_xw,  # x strides, in elements
        stride_gn, stride_gc, stride_gh, stride_gw,  # g strides
        stride_ps, stride_pc, stride_ph, stride_pw,  # partial-sum strides
        HB, WB,  # bucketed H and W: autotuning key only
        CHANNELS_LAST: tl.constexpr,  # x, g are channels_last
        BLOCK_J: tl.constexpr,  # kernel columns per program
        BLOCK_C: tl.constexpr,  # channels per program
        BLOCK_W: tl.constexpr):  # output columns per step
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
    x_off = cc * stride_xc + (i - ph) * stride_xh + (wr + jj - pw) * stride_xw
    if CHANNELS_LAST:
        g_off = cc * stride_gc + wr * stride_gw + jj * 0
    else:
        g_off = cc * stride_gc + wr * stride_gw
    acc = tl.zeros((BLOCK_C, BLOCK_W, BLOCK_J), dtype=tl.float32)
    for n in range(n_lo, n_hi):
        x_n = x_ptr + n * stride_xn
        g_n = g_ptr + n * stride_gn
        for h in range(h_lo, h_hi):
            for w0 in range(w_lo, w_hi, BLOCK_W):
                ow = w0 + wr
                iw = ow + jj - pw
                g_ok = (cc < C) & (ow < w_hi)
                if CHANNELS_LAST:
                    g_ok = g_ok & (jj >= 0)
                xv = tl.load(x_n + (x_off + (h * stride_xh + w0 * stride_xw)),
                             mask=g_ok & cj_ok & (iw >= 0) & (iw < W), other=0.0)
                gv = tl.load(g_n + (g_off + (h * stride_gh + w0 * stride_gw)), mask=g_ok,
                             other=0.0)
                acc += xv.to(tl.float32) * gv.to(tl.float32)
    part = tl.sum(acc, axis=1)
    c2 = offs_c[:, None]
    j2 = (j0 + tl.arange(0, BLOCK_J))[None, :]
    p_ptrs = p_ptr + pid_s.to(tl.int64) * stride_ps + (c2 * stride_pc + i * stride_ph
                                                       + j2 * stride_pw)
    tl.store(p_ptrs, part, mask=(c2 < C) & (j2 < KW))


# ============================================================================= window (v2)
@triton.jit
def dw_fwd_window_kernel(
        x_ptr,  # input (N, C, H, W), any strides
        w_ptr,  # kernel (C, KH, KW): channel-contiguous when CHANNELS_LAST
        b_ptr,  # bias (C,); read only when HAS_BIAS
        y_ptr,  # output, shape of x
        C, H, W,  # channels, height, width
        KH, KW,  # kernel height and width (odd)
        stride_xn, stride_xc, stride_xh, stride_xw,  # x strides, in elements
        stride_yn, stride_yc, stride_yh, stride_yw,  # y strides
        stride_wc, stride_wh, stride_ww,  # kernel strides
        HB, WB,  # bucketed H and W: autotuning key only
        KWP: tl.constexpr,  # KW rounded up to a power of two (at least 2): sets SEG
        CHANNELS_LAST: tl.constexpr,  # x, y are channels_last
        HAS_BIAS: tl.constexpr,  # add b_ptr's bias
        BLOCK_C: tl.constexpr,  # channels per tile
        BLOCK_H: tl.constexpr,  # rows per tile
        BLOCK_W: tl.constexpr):  # columns per tile
    """Same result as :func:`dw_fwd_direct_kernel`; one input load per kernel row.

    Per kernel row i the segment ``x[.., h + i - KH//2, w0 - KW//2 + s]``,
    ``s < BLOCK_W + KW - 1``, is loaded once (converted to fp32 once) and tap j
    reads columns ``s = w + j`` of it with ``tl.gather``.
    """
    # segment length: the power of two 2 * max(BLOCK_W, KWP) >= BLOCK_W + KW - 1
    SEG: tl.constexpr = 2 * BLOCK_W if BLOCK_W > KWP else 2 * KWP
    n, h0, w0, cc, hh, ww = _output_tile(C, W, BLOCK_C, BLOCK_H, BLOCK_W)
    c_ok = cc < C
    ph = KH // 2
    pw = KW // 2
    ss = tl.arange(0, SEG)[None, None, :]
    sw = w0 - pw + ss  # input column of segment position s
    seg_ok = c_ok & (ss < BLOCK_W + KW - 1) & (sw >= 0) & (sw < W)
    x_n = x_ptr + n * stride_xn
    seg_off = cc * stride_xc + (hh - ph) * stride_xh + sw * stride_xw
    # segment position of output column w for tap 0; tap j gathers window + j
    window = tl.broadcast_to(tl.arange(0, BLOCK_W)[None, None, :], (BLOCK_C, BLOCK_H, BLOCK_W))
    w_off, w_ok = _tap_weight_offsets(cc, hh, ww, C, stride_wc, BLOCK_C, CHANNELS_LAST)
    i_lo, i_hi = _tap_range(h0, BLOCK_H, H, KH)
    j_lo, j_hi = _tap_range(w0, BLOCK_W, W, KW)
    acc = tl.zeros((BLOCK_C, BLOCK_H, BLOCK_W), dtype=tl.float32)
    for i in range(i_lo, i_hi):
        ih = hh + (i - ph)
        seg = tl.load(x_n + (seg_off + i * stride_xh), mask=seg_ok & (ih >= 0) & (ih < H),
                      other=0.0).to(tl.float32)
        for j in range(j_lo, j_hi):
            wv = _tap_weight(w_ptr, w_off, w_ok, i * stride_wh + j * stride_ww, CHANNELS_LAST)
            acc += tl.gather(seg, window + j, axis=2) * wv
    _store_output(y_ptr, n, cc, hh, ww, acc, b_ptr, C, H, W,
                  stride_yn, stride_yc, stride_yh, stride_yw, HAS_BIAS)


@triton.jit
def _slice_bounds(N, H, N_CHUNK, H_CHUNK, i, ph):
    """Samples [n_lo, n_hi) (int64) and output rows [h_lo, h_hi) of slice program_id(2).

    Only rows whose input row ``h + i - ph`` lies inside the image are kept.
    """
    pid_s = tl.program_id(2)
    n_hs = tl.cdiv(H, H_CHUNK)
    n_lo = ((pid_s // n_hs) * N_CHUNK).to(tl.int64)
    n_hi = tl.minimum(n_lo + N_CHUNK, N)
    hc0 = (pid_s % n_hs) * H_CHUNK
    h_lo = tl.maximum(tl.maximum(ph - i, 0), hc0)
    h_hi = tl.minimum(tl.minimum(H + ph - i, H), hc0 + H_CHUNK)
    return n_lo, n_hi, h_lo, h_hi


@triton.jit
def dw_wgrad_window_kernel(
        x_ptr,  # input (N, C, H, W), any strides
        g_ptr,  # output gradient, shape of x
        p_ptr,  # fp32 partial kernel gradients (S, C, KH, KW), one per slice
        pb_ptr,  # fp32 partial bias gradients (S, C); written only when HAS_BIAS
        N, C, H, W,  # batch, channels, height, width
        KH, KW,  # kernel height and width (odd)
        N_CHUNK, H_CHUNK,  # samples and rows per slice
        stride_xn, stride_xc, stride_xh, stride_xw,  # x strides, in elements
        stride_gn, stride_gc, stride_gh, stride_gw,  # g strides
        stride_ps, stride_pc, stride_ph, stride_pw,  # partial-sum strides
        stride_pbs, stride_pbc,  # partial bias strides
        HB, WB,  # bucketed H and W: autotuning key only
        HAS_BIAS: tl.constexpr,  # also sum g into pb_ptr (programs of kernel row KH // 2)
        BLOCK_J: tl.constexpr,  # kernel columns per program: a power of two >= KW
        BLOCK_C: tl.constexpr,  # channels per program
        BLOCK_R: tl.constexpr,  # output rows per step
        BLOCK_W: tl.constexpr):  # output columns per step
    """p[s, c, i, j] as :func:`dw_wgrad_direct_kernel`, one input load per row block.

    Program (i, c block, slice s) owns kernel row i. Per block of output-gradient
    rows and columns ``g[.., h + r, w0 + w]`` it loads the input segments
    ``x[.., h + r + i - KH//2, w0 - KW//2 + s]``, ``s < BLOCK_W + KW - 1``, once and
    gathers ``x[w + j]`` for every (w, j) pair of the step from them. The pairs
    lie along one flat axis ``f = w * BLOCK_J + j`` (a gather keeps the rank of
    its source), folded back to (w, j) once at the end.
    """
    # segment length: the power of two 2 * max(BLOCK_W, BLOCK_J) >= BLOCK_W + BLOCK_J - 1
    SEG: tl.constexpr = 2 * BLOCK_W if BLOCK_W > BLOCK_J else 2 * BLOCK_J
    i = tl.program_id(0)
    ph = KH // 2
    pw = KW // 2
    n_lo, n_hi, h_lo, h_hi = _slice_bounds(N, H, N_CHUNK, H_CHUNK, i, ph)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    cc = offs_c[:, None, None]
    c_ok = cc < C
    rr = tl.arange(0, BLOCK_R)[None, :, None]
    ss = tl.arange(0, SEG)[None, None, :]
    seg_off = cc * stride_xc + (rr + i - ph) * stride_xh + (ss - pw) * stride_xw
    ff = tl.arange(0, BLOCK_W * BLOCK_J)[None, None, :]
    fw = ff // BLOCK_J  # output column of pair f
    pairs = tl.broadcast_to(fw + ff % BLOCK_J, (BLOCK_C, BLOCK_R, BLOCK_W * BLOCK_J))  # w + j
    g_off = cc * stride_gc + rr * stride_gh + fw * stride_gw
    acc = tl.zeros((BLOCK_C, BLOCK_R, BLOCK_W * BLOCK_J), dtype=tl.float32)
    bias_acc = tl.zeros((BLOCK_C, BLOCK_R, BLOCK_W * BLOCK_J), dtype=tl.float32)
    for n in range(n_lo, n_hi):
        x_n = x_ptr + n * stride_xn
        g_n = g_ptr + n * stride_gn
        for h in range(h_lo, h_hi, BLOCK_R):
            r_ok = c_ok & (h + rr < h_hi)
            for w0 in range(0, W, BLOCK_W):
                sw = w0 - pw + ss
                seg = tl.load(x_n + (seg_off + (h * stride_xh + w0 * stride_xw)),
                              mask=r_ok & (ss < BLOCK_W + KW - 1) & (sw >= 0) & (sw < W),
                              other=0.0).to(tl.float32)
                gv = tl.load(g_n + (g_off + (h * stride_gh + w0 * stride_gw)),
                             mask=r_ok & (w0 + fw < W), other=0.0).to(tl.float32)
                acc += tl.gather(seg, pairs, axis=2) * gv
                if HAS_BIAS:
                    bias_acc += tl.where(ff % BLOCK_J == 0, gv, 0.0)  # each g value once
    part = tl.sum(tl.reshape(tl.sum(acc, axis=1), (BLOCK_C, BLOCK_W, BLOCK_J)), axis=1)
    jj = tl.arange(0, BLOCK_J)[None, :]
    c2 = offs_c[:, None]
    pid_s = tl.program_id(2).to(tl.int64)
    tl.store(p_ptr + pid_s * stride_ps + (c2 * stride_pc + i * stride_ph + jj * stride_pw), part,
             mask=(c2 < C) & (jj < KW))
    if HAS_BIAS:
        if i == ph:  # this program saw every g value of the slice exactly once
            tl.store(pb_ptr + pid_s * stride_pbs + offs_c * stride_pbc,
                     tl.sum(tl.sum(bias_acc, axis=2), axis=1), mask=offs_c < C)


# ============================================================================= tensor cores (v2)
@triton.jit
def _dot_operand(v, UPCAST: tl.constexpr):
    """``v`` as a tl.dot operand: fp32 under the interpreter (it multiplies bf16 bits)."""
    if UPCAST:
        return v.to(tl.float32)
    return v


@triton.jit
def dw_fwd_tc_kernel(
        x_ptr,  # input (N, C, H, W), any strides
        w_ptr,  # kernel (C, KH, KW), any strides
        b_ptr,  # bias (C,); read only when HAS_BIAS
        y_ptr,  # output, shape of x
        C, H, W,  # channels, height, width
        KH, KW,  # kernel height and width (odd)
        stride_xn, stride_xc, stride_xh, stride_xw,  # x strides, in elements
        stride_yn, stride_yc, stride_yh, stride_yw,  # y strides
        stride_wc, stride_wh, stride_ww,  # kernel strides
        HB, WB,  # bucketed H and W: autotuning key only
        KWP: tl.constexpr,  # KW rounded up to a power of two (>= 2): the GEMM's K = SEG
        HAS_BIAS: tl.constexpr,  # add b_ptr's bias
        INPUT_PRECISION: tl.constexpr,  # tl.dot precision for fp32 operands ('tf32x3')
        UPCAST: tl.constexpr,  # operands to fp32 before tl.dot (interpreter only)
        BLOCK_C: tl.constexpr,  # channels per tile: the batch of the 3-D dot
        BLOCK_H: tl.constexpr,  # rows per tile: the GEMM's M
        BLOCK_W: tl.constexpr):  # columns per tile: the GEMM's N
    """Same result as :func:`dw_fwd_direct_kernel` as one GEMM per kernel row.

    For kernel row i: ``acc[c, h, w] += sum_s A_i[c, h, s] T_i[c, s, w]`` with
    ``A_i[c, h, s] = x[c, h0 + h + i - KH//2, w0 - KW//2 + s]`` and the band
    ``T_i[c, s, w] = k[c, i, s - w]`` for ``0 <= s - w < KW``, else 0.
    """
    # segment length: the power of two 2 * max(BLOCK_W, KWP) >= BLOCK_W + KW - 1
    SEG: tl.constexpr = 2 * BLOCK_W if BLOCK_W > KWP else 2 * KWP
    n, h0, w0, cc, hh, ww = _output_tile(C, W, BLOCK_C, BLOCK_H, BLOCK_W)
    c_ok = cc < C
    ph = KH // 2
    pw = KW // 2
    ss = tl.arange(0, SEG)[None, None, :]  # K index of A
    sw = w0 - pw + ss
    a_ok = c_ok & (ss < BLOCK_W + KW - 1) & (sw >= 0) & (sw < W)
    a_off = cc * stride_xc + (hh - ph) * stride_xh + sw * stride_xw
    x_n = x_ptr + n * stride_xn
    # band: T[c, s, w] = k[c, i, s - w]
    tap = tl.arange(0, SEG)[None, :, None] - tl.arange(0, BLOCK_W)[None, None, :]
    t_off = cc * stride_wc + tap * stride_ww
    t_ok = c_ok & (tap >= 0) & (tap < KW)
    i_lo, i_hi = _tap_range(h0, BLOCK_H, H, KH)
    acc = tl.zeros((BLOCK_C, BLOCK_H, BLOCK_W), dtype=tl.float32)
    for i in range(i_lo, i_hi):
        ih = hh + (i - ph)
        a = tl.load(x_n + (a_off + i * stride_xh), mask=a_ok & (ih >= 0) & (ih < H), other=0.0)
        t = tl.load(w_ptr + (t_off + i * stride_wh), mask=t_ok, other=0.0)
        acc = tl.dot(_dot_operand(a, UPCAST), _dot_operand(t, UPCAST), acc,
                     input_precision=INPUT_PRECISION)
    _store_output(y_ptr, n, cc, hh, ww, acc, b_ptr, C, H, W,
                  stride_yn, stride_yc, stride_yh, stride_yw, HAS_BIAS)


@triton.jit
def dw_wgrad_tc_kernel(
        x_ptr,  # input (N, C, H, W), any strides
        g_ptr,  # output gradient, shape of x
        p_ptr,  # fp32 partial kernel gradients (S, C, KH, KW), one per slice, zero-filled
        pb_ptr,  # fp32 partial bias gradients (S, C); written only when HAS_BIAS
        N, C, H, W,  # batch, channels, height, width
        KH, KW,  # kernel height and width (odd)
        N_CHUNK, H_CHUNK,  # samples and rows per slice
        stride_xn, stride_xc, stride_xh, stride_xw,  # x strides, in elements
        stride_gn, stride_gc, stride_gh, stride_gw,  # g strides
        stride_ps, stride_pc, stride_ph, stride_pw,  # partial-sum strides
        stride_pbs, stride_pbc,  # partial bias strides
        HB, WB,  # bucketed H and W: autotuning key only
        KWP: tl.constexpr,  # KW rounded up to a power of two (at least 2): sets SEG
        HAS_BIAS: tl.constexpr,  # also sum g into pb_ptr (programs of kernel row KH // 2)
        INPUT_PRECISION: tl.constexpr,  # tl.dot precision for fp32 operands ('tf32x3')
        UPCAST: tl.constexpr,  # operands to fp32 before tl.dot (interpreter only)
        BLOCK_C: tl.constexpr,  # channels per program: the batch of the 3-D dot
        BLOCK_R: tl.constexpr,  # output rows per step: the GEMM's K
        BLOCK_W: tl.constexpr):  # output columns per step: the GEMM's N
    """p[s, c, i, j] as :func:`dw_wgrad_direct_kernel`, as a GEMM and a diagonal sum.

    Program (i, c block, slice s) accumulates ``P[c, s, w] = sum_r A[c, r, s] G[c, r, w]``
    over rows r = (n, h) of the slice and column blocks w0, with
    ``A[c, r, s] = x[n, c, h + i - KH//2, w0 - KW//2 + s]`` and
    ``G[c, r, w] = g[n, c, h, w0 + w]``; then ``p[s, c, i, j] = sum_w P[c, w + j, w]`` for
    the taps j that reach the image (``p`` must be zero-filled).
    """
    # segment length: the power of two 2 * max(BLOCK_W, KWP) >= BLOCK_W + KW - 1
    SEG: tl.constexpr = 2 * BLOCK_W if BLOCK_W > KWP else 2 * KWP
    i = tl.program_id(0)
    ph = KH // 2
    pw = KW // 2
    n_lo, n_hi, h_lo, h_hi = _slice_bounds(N, H, N_CHUNK, H_CHUNK, i, ph)
    offs_c = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    cc = offs_c[:, None, None]
    c_ok = cc < C
    rr = tl.arange(0, BLOCK_R)[None, :, None]
    ss = tl.arange(0, SEG)[None, None, :]
    wr = tl.arange(0, BLOCK_W)[None, None, :]
    a_off = cc * stride_xc + (rr + i - ph) * stride_xh + (ss - pw) * stride_xw
    g_off = cc * stride_gc + rr * stride_gh + wr * stride_gw
    acc = tl.zeros((BLOCK_C, SEG, BLOCK_W), dtype=tl.float32)
    bias_acc = tl.zeros((BLOCK_C, BLOCK_R, BLOCK_W), dtype=tl.float32)
    for n in range(n_lo, n_hi):
        x_n = x_ptr + n * stride_xn
        g_n = g_ptr + n * stride_gn
        for h in range(h_lo, h_hi, BLOCK_R):
            r_ok = c_ok & (h + rr < h_hi)
            for w0 in range(0, W, BLOCK_W):
                sw = w0 - pw + ss
                a = tl.load(x_n + (a_off + (h * stride_xh + w0 * stride_xw)),
                            mask=r_ok & (ss < BLOCK_W + KW - 1) & (sw >= 0) & (sw < W),
                            other=0.0)
                gv = tl.load(g_n + (g_off + (h * stride_gh + w0 * stride_gw)),
                             mask=r_ok & (w0 + wr < W), other=0.0)
                acc = tl.dot(tl.permute(_dot_operand(a, UPCAST), (0, 2, 1)),
                             _dot_operand(gv, UPCAST), acc, input_precision=INPUT_PRECISION)
                if HAS_BIAS:
                    bias_acc += gv.to(tl.float32)
    pid_s = tl.program_id(2).to(tl.int64)
    diag = tl.arange(0, SEG)[None, :, None] - tl.arange(0, BLOCK_W)[None, None, :]
    # taps whose column reaches the image; the host zero-fills the others
    for j in range(tl.maximum(pw - (W - 1), 0), tl.minimum(pw + W, KW)):
        part = tl.sum(tl.sum(tl.where(diag == j, acc, 0.0), axis=2), axis=1)
        tl.store(p_ptr + pid_s * stride_ps + (offs_c * stride_pc + i * stride_ph + j * stride_pw),
                 part, mask=offs_c < C)
    if HAS_BIAS:
        if i == ph:  # this program saw every g value of the slice exactly once
            tl.store(pb_ptr + pid_s * stride_pbs + offs_c * stride_pbc,
                     tl.sum(tl.sum(bias_acc, axis=2), axis=1), mask=offs_c < C)
