"""LKConvNeXt: registries, shapes, validation, re-parameterisation, ConvNeXt parity."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

import lkssl_mm  # noqa: F401
from lkssl_mm.analysis import compute_erf, high_contribution_area_ratio
from lkssl_mm.models import LKConvNeXt
from lkssl_mm.models.layers import (
    DecomposedLargeKernelConv,
    DepthwiseConv2d,
    ReparamLargeKernelConv,
)

SMALL_ARCH = dict(depths=[1, 1, 2, 1], channels=[16, 32, 64, 128])


def small(**kwargs):
    return LKConvNeXt(arch=SMALL_ARCH, **kwargs)


def randomize_bn(module: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial statistics and affine parameters."""
    generator = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=generator) * 0.1)


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmdet', 'mmseg'])
def test_builds_from_each_library_registry_through_the_base_config(scope):
    cfg = Config.fromfile('configs/_base_/models/lkconvnext-t-k13-bn.py')
    previous = DefaultScope.get_current_instance()
    init_default_scope(scope)
    try:
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        backbone = registry.build(cfg.backbone)
    finally:
        if previous is not None:
            init_default_scope(previous.scope_name)
    assert isinstance(backbone, LKConvNeXt)
    assert backbone.kernel_sizes == [13] * 4
    assert isinstance(backbone.stages[0][0].norm, nn.BatchNorm2d)
    assert backbone.stages[0][0].depthwise_conv.kernel_size == (13, 13)


@pytest.mark.parametrize('norm_cfg', [dict(type='LN2d', eps=1e-6), dict(type='BN')])
def test_output_shapes_and_strides_at_every_index(norm_cfg):
    model = small(kernel_size=[3, 5, 7, 9], norm_cfg=norm_cfg, out_indices=(0, 1, 2, 3),
                  gap_before_final_norm=False).eval()
    outs = model(torch.randn(2, 3, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16, 24), (2, 32, 8, 12), (2, 64, 4, 6),
                                              (2, 128, 2, 3)]
    assert model.out_channels == SMALL_ARCH['channels']
    for i in range(4):
        assert isinstance(getattr(model, f'norm{i}'), type(model.stages[0][0].norm))
    pooled = small(out_indices=(1, 3)).eval()(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in pooled] == [(2, 32), (2, 128)]


@pytest.mark.parametrize('bad, fragment', [
    (8, 'got 8'), (1, 'got 1'), (-3, 'got -3'), (0, 'got 0'), (9.0, 'got 9.0'),
    ('9', "got '9'"), (True, 'got True'), ([7, 7, 7], 'got [7, 7, 7]'),
    ([7, 7, 7, 4], 'kernel_size[3] must be an odd int >= 3, got 4')])
def test_invalid_kernel_sizes_are_rejected_with_the_argument_named(bad, fragment):
    with pytest.raises(ValueError, match=r'kernel_size') as info:
        small(kernel_size=bad)
    assert fragment in str(info.value)


def test_other_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match='lk_mode'):
        small(lk_mode='huge')
    with pytest.raises(ValueError, match='small_kernel'):
        small(kernel_size=9, lk_mode='reparam', small_kernel=9)
    with pytest.raises(ValueError, match='decompose_width'):
        small(kernel_size=5, lk_mode='decomposed', decompose_width=5)
    with pytest.raises(ValueError, match='out_indices'):
        small(out_indices=(4, ))
    with pytest.raises(ValueError, match='arch'):
        LKConvNeXt(arch='gigantic')
    with pytest.raises(ValueError, match='frozen_stages'):
        small(frozen_stages=5)


def test_large_kernels_up_to_51_and_beyond_build_and_run():
    model = small(kernel_size=[51, 31, 13, 9], out_indices=(0, 1, 2, 3),
                  gap_before_final_norm=False).eval()
    assert model.stages[0][0].depthwise_conv.weight.shape == (16, 1, 51, 51)
    outs = model(torch.randn(1, 3, 32, 32))
    assert outs[0].shape == (1, 16, 8, 8)


def test_every_depthwise_conv_goes_through_the_one_layer_class():
    for mode in ('plain', 'reparam', 'decomposed'):
        model = small(kernel_size=13, lk_mode=mode, small_kernel=5)
        grouped = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
        assert grouped and all(isinstance(m, DepthwiseConv2d) for m in grouped)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_reparam_block_equals_its_merged_form():
    torch.manual_seed(0)
    block = ReparamLargeKernelConv(8, 13, small_kernel=5)
    randomize_bn(block)
    block.eval()
    x = torch.randn(2, 8, 20, 20)
    before = block(x)
    block.switch_to_deploy()
    assert hasattr(block, 'lk_reparam') and not hasattr(block, 'lk_origin')
    assert relative_error(block(x), before) < 1e-5


def test_decomposed_block_equals_its_merged_form():
    torch.manual_seed(0)
    block = DecomposedLargeKernelConv(8, 21, width=5, small_kernel=3)
    randomize_bn(block, seed=1)
    block.eval()
    x = torch.randn(2, 8, 24, 24)
    before = block(x)
    block.switch_to_deploy()
    assert block.lk_h.kernel_size == (21, 5) and block.lk_w.kernel_size == (5, 21)
    assert relative_error(block(x), before) < 1e-5


@pytest.mark.parametrize('mode', ['reparam', 'decomposed'])
def test_backbone_switch_to_deploy_keeps_outputs(mode):
    torch.manual_seed(0)
    model = small(kernel_size=[13, 11, 9, 7], lk_mode=mode, small_kernel=3,
                  norm_cfg=dict(type='BN'), out_indices=(0, 1, 2, 3),
                  gap_before_final_norm=False)
    randomize_bn(model)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    before = model(x)
    deployed = copy.deepcopy(model)
    deployed.switch_to_deploy()
    assert not any(isinstance(m, nn.BatchNorm2d) and 'depthwise' in name
                   for name, m in deployed.named_modules())
    for a, b in zip(deployed(x), before):
        assert relative_error(a, b) < 1e-5
    built_deployed = small(kernel_size=[13, 11, 9, 7], lk_mode=mode, small_kernel=3,
                           norm_cfg=dict(type='BN'), deploy=True)
    assert set(built_deployed.state_dict()) <= set(deployed.state_dict()) | {
        f'norm{i}.{k}' for i in range(4) for k in ('weight', 'bias')}


def erf_ratio(model, images, threshold='t50'):
    return high_contribution_area_ratio(compute_erf(model, images, out_index=0))[threshold]


def test_decomposed_kernels_run_and_their_erf_grows_with_kernel_size():
    torch.manual_seed(0)
    images = [torch.randn(3, 96, 96) for _ in range(3)]
    ratios = []
    for kernel in (11, 21, 41):
        torch.manual_seed(0)
        # layer scale 0: at random init ConvNeXt's 1e-6 layer scale hides the mixer
        model = small(kernel_size=kernel, lk_mode='decomposed', small_kernel=5,
                      stem_patch_size=2, layer_scale_init_value=0, out_indices=(0, ),
                      gap_before_final_norm=False)
        ratios.append(erf_ratio(model, images))
    assert ratios[0] < ratios[1] < ratios[2], ratios


def test_convnext_tiny_parameters_and_flops_match_the_paper():
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='LKConvNeXt', arch='tiny', kernel_size=7),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=768))).eval()
    info = get_model_complexity_info(model, input_shape=(3, 224, 224), show_table=False,
                                     show_arch=False)
    assert round(info['params'] / 1e6, 1) == 28.6
    assert round(info['flops'] / 1e9, 1) == 4.5


def test_loads_mmpretrain_convnext_weights_and_gives_the_same_outputs(tmp_path):
    from mmpretrain.models import ConvNeXt
    torch.manual_seed(0)
    reference = ConvNeXt(arch='tiny', out_indices=(0, 1, 2, 3), gap_before_final_norm=False)
    reference.init_weights()
    for p in reference.parameters():  # move away from the init's constants
        p.data.add_(torch.randn_like(p) * 0.01)
    path = tmp_path / 'convnext_tiny.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in reference.state_dict().items()}},
               path)
    ours = LKConvNeXt(arch='tiny', kernel_size=7, out_indices=(0, 1, 2, 3),
                      gap_before_final_norm=False,
                      init_cfg=dict(type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    ours.init_weights()
    reference.eval()
    ours.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), reference(x)):
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)


def test_frozen_stages_get_no_gradients():
    model = small(frozen_stages=2, norm_cfg=dict(type='BN'))
    model.train()
    model(torch.randn(2, 3, 64, 64))[0].sum().backward()
    for i in range(4):
        params = list(model.downsample_layers[i].parameters()) + list(
            model.stages[i].parameters())
        if i < 2:
            assert all(p.grad is None and not p.requires_grad for p in params)
            assert not any(m.training for m in model.stages[i].modules())
        else:
            assert all(p.grad is not None for p in params if p.requires_grad)


def test_norm_eval_keeps_batchnorm_statistics():
    model = small(norm_cfg=dict(type='BN'), norm_eval=True).train()
    before = model.stages[0][0].norm.running_mean.clone()
    model(torch.randn(4, 3, 32, 32))
    assert torch.equal(model.stages[0][0].norm.running_mean, before)


def test_with_cp_gives_identical_outputs_and_gradients():
    torch.manual_seed(0)
    plain = small(kernel_size=9, drop_path_rate=0.0, layer_scale_init_value=1.0)
    checkpointed = copy.deepcopy(plain)
    for module in checkpointed.modules():
        if hasattr(module, 'with_cp'):
            module.with_cp = True
    x = torch.randn(2, 3, 64, 64)
    out_a, out_b = plain(x)[0], checkpointed(x)[0]
    assert torch.equal(out_a, out_b)
    out_a.square().sum().backward()
    out_b.square().sum().backward()
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_widen_factor_scales_every_stage():
    model = small(widen_factor=1.5)
    assert model.channels == [24, 48, 96, 192]


# the block's state-dict names per mixer mode: what checkpoints carry
MIXER_KEYS = {
    'plain': ['weight', 'bias'],
    'reparam': ['lk_origin.conv.weight', 'lk_origin.bn.weight', 'lk_origin.bn.bias',
                'lk_origin.bn.running_mean', 'lk_origin.bn.running_var',
                'lk_origin.bn.num_batches_tracked', 'small_conv.conv.weight',
                'small_conv.bn.weight', 'small_conv.bn.bias', 'small_conv.bn.running_mean',
                'small_conv.bn.running_var', 'small_conv.bn.num_batches_tracked'],
    'decomposed': [f'{branch}.{key}' for branch in ('lkb_h', 'lkb_w', 'small_conv')
                   for key in ('conv.weight', 'bn.weight', 'bn.bias', 'bn.running_mean',
                               'bn.running_var', 'bn.num_batches_tracked')],
}


@pytest.mark.parametrize('mode', sorted(MIXER_KEYS))
def test_each_stage_hands_its_blocks_one_mixer_config(mode):
    """kernel_size per stage, the shared options once: every block gets the same dict."""
    model = small(kernel_size=[13, 11, 9, 7], lk_mode=mode, small_kernel=3, decompose_width=5)
    for stage, kernel in zip(model.stages, [13, 11, 9, 7]):
        for block in stage:
            mixer = block.depthwise_conv
            assert list(mixer.state_dict()) == MIXER_KEYS[mode]
            shapes = {k: tuple(v.shape[-2:]) for k, v in mixer.state_dict().items()
                      if k.endswith('weight') and v.dim() == 4}
            expected = {'plain': {'weight': (kernel, kernel)},
                        'reparam': {'lk_origin.conv.weight': (kernel, kernel),
                                    'small_conv.conv.weight': (3, 3)},
                        'decomposed': {'lkb_h.conv.weight': (kernel, 5),
                                       'lkb_w.conv.weight': (5, kernel),
                                       'small_conv.conv.weight': (3, 3)}}[mode]
            assert shapes == expected


def test_mixer_options_cannot_be_passed_by_position():
    from lkssl_mm.models.backbones.lk_convnext import LKConvNeXtBlock
    from lkssl_mm.models.layers.large_kernel import build_large_kernel_conv
    with pytest.raises(TypeError):  # (kernel_size, mode, small_kernel, decompose_width)
        build_large_kernel_conv(8, 13, 'decomposed', 3, 5)
    with pytest.raises(TypeError):
        DecomposedLargeKernelConv(8, 13, 5, 3)
    with pytest.raises(TypeError):
        LKConvNeXtBlock(8, dict(kernel_size=13))
    block = LKConvNeXtBlock(8, mixer_cfg=dict(kernel_size=13, mode='decomposed',
                                              small_kernel=3, decompose_width=5))
    assert block.depthwise_conv.shapes == ((13, 5), (5, 13))
    with pytest.raises(ValueError, match=r'small_kernel \(7\) must be <= decompose_width'):
        LKConvNeXtBlock(8, mixer_cfg=dict(kernel_size=13, mode='decomposed',
                                          small_kernel=7, decompose_width=5))
