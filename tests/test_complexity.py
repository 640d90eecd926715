"""FLOP counts include the fused attention (``scaled_dot_product_attention``)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer

from lkssl_mm.analysis.complexity import config_complexity, count_flops


class Attention(nn.Module):
    """q, k, v projections then attention, fused or written out."""

    def __init__(self, fused: bool, heads: int = 4, dims: int = 32):
        super().__init__()
        self.fused, self.heads = fused, heads
        self.qkv = nn.Linear(dims, 3 * dims)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(
            2, 0, 3, 1, 4)
        if self.fused:
            return F.scaled_dot_product_attention(q, k, v)
        return ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5).softmax(-1) @ v


def test_fused_attention_counts_as_its_two_matrix_products():
    fused = count_flops(Attention(fused=True), (17, 32))
    written_out = count_flops(Attention(fused=False), (17, 32))
    projections = 17 * 32 * 96
    assert written_out == projections + 2 * 4 * 17 * 17 * 8  # mmengine's matmul handle
    assert fused == written_out


def test_the_demo_vit_counts_its_attention():
    info = config_complexity('configs/demo/knn_vit-demo-p16_synthetic.py', shape=(64, 64))
    from mmengine.config import Config

    from lkssl_mm.utils.builder import build_model
    model = build_model(Config.fromfile(
        'configs/demo/knn_vit-demo-p16_synthetic.py')).eval()
    without = FlopAnalyzer(model, (torch.randn(1, 3, 64, 64), ))
    without.unsupported_ops_warnings(False)
    # 6 layers x (q @ k^T and attn @ v) over 17 tokens (16 patches + class token), 4 x 32 wide
    assert info['flops'] - without.total() == 6 * 2 * 4 * 17 * 17 * 32
    assert info['params'] == sum(p.numel() for p in model.parameters())


def test_depthwise_kernels_count_every_tap_even_where_they_run_cut():
    """A 13x13 kernel on a 2x2 map runs as 3x3 (the taps that reach it) but counts as
    13x13, as the papers count FLOPs: 4 channels x 4 pixels x 169 taps."""
    from lkssl_mm.models.layers import DepthwiseConv2d
    from lkssl_mm.ops.dwconv import reachable_kernel
    conv = DepthwiseConv2d(4, 13, bias=False)
    x = torch.randn(1, 4, 2, 2)
    assert reachable_kernel(x, conv.weight).shape[-2:] == (3, 3)
    assert count_flops(conv, (4, 2, 2)) == 4 * 4 * 169
    assert count_flops(conv, (4, 9, 9)) == 4 * 81 * 169  # nothing to cut
