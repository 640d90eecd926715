"""Export to timm's ConvNeXt: strict loading, same pooled features, refusals, the tool."""
import pytest
import timm
import torch
import torch.nn as nn
from mmengine.config import Config

import lkssl_mm  # noqa: F401
from lkssl_mm.models.export import (
    TimmExportError,
    build_export_backbone,
    compare_with_timm,
    dense_depthwise_kernel,
    lkconvnext_to_timm,
)
from lkssl_mm.models.export.timm_convnext import TIMM_VARIANTS
from lkssl_mm.models.layers import DepthwiseConv2d

SMALL = dict(depths=[1, 1, 2, 1], channels=[16, 32, 48, 64])
LN = dict(type='LN2d', eps=1e-6)
DINO_DEMO = 'configs/demo/dino_lkconvnext-demo_1xb32-100e_synthetic.py'


def _like_trained(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights of trained-like scale: norm weights and layer scales near 1 (the 1e-6
    layer-scale init would hide the mixers), BatchNorm statistics away from 0 / 1."""
    generator = torch.Generator().manual_seed(seed)

    def noise(shape):
        return torch.randn(shape, generator=generator)

    with torch.no_grad():
        for name, param in module.named_parameters():
            is_scale = name.endswith('gamma') or (param.ndim == 1 and name.endswith('weight'))
            param.copy_(1 + 0.2 * noise(param.shape) if is_scale else 0.1 * noise(param.shape))
        for name, buffer in module.named_buffers():
            if name.endswith('running_mean'):
                buffer.copy_(0.2 * noise(buffer.shape))
            elif name.endswith('running_var'):
                buffer.copy_(0.5 + torch.rand(buffer.shape, generator=generator))
    return module.eval()


def _backbone(**kwargs):
    cfg = dict(dict(type='LKConvNeXt', arch=SMALL, norm_cfg=LN), **kwargs)
    return _like_trained(build_export_backbone(cfg))


def _timm_model(call: str, state_dict: dict) -> nn.Module:
    """The model a printed ``create_model`` call builds, with the state dict loaded strictly.

    Built on the meta device (no random init: seconds less for ConvNeXt-T); ``strict=True``
    checks every key and shape exactly as a load into an initialised model does.
    """
    with torch.device('meta'):
        model = eval(call, {'timm': timm})
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval()


def _loaded(export) -> nn.Module:
    return _timm_model(export.create_model_call(), export.state_dict)


def _max_feature_difference(backbone, model, size: int) -> float:
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = backbone(images)[-1], model(images)
    assert ours.shape == theirs.shape and ours.std() > 0.1  # features, not a constant
    return (ours - theirs).abs().max().item()


# 128 px: the first stage is 32x32, so every tap of a 31x31 kernel meets the image
@pytest.mark.parametrize('mode', ['plain', 'reparam', 'decomposed'])
@pytest.mark.parametrize('kernel', [7, 13, 31])
def test_plain_folded_and_merged_kernels_give_the_same_features_in_timm(kernel, mode):
    backbone = _backbone(kernel_size=kernel, lk_mode=mode, small_kernel=5, decompose_width=5)
    export = lkconvnext_to_timm(backbone)
    assert export.create_model_call() == (
        "timm.create_model('convnext_tiny', depths=(1, 1, 2, 1), dims=(16, 32, 48, 64), "
        f"kernel_sizes=({kernel}, {kernel}, {kernel}, {kernel}), num_classes=0)")
    assert export.merged_mixers == (0 if mode == 'plain' else 5)  # 5 blocks
    model = _loaded(export)
    assert model.stages[0].blocks[0].conv_dw.kernel_size == (kernel, kernel)
    assert _max_feature_difference(backbone, model, 128) <= 1e-4


def test_timm_variants_are_used_by_name_with_their_mlp_form():
    # atto builds 1x1-conv MLPs in timm (conv_mlp=True): the Linear weights are reshaped
    atto = _like_trained(build_export_backbone(dict(
        type='LKConvNeXt', arch='atto', kernel_size=[31, 13, 7, 7], norm_cfg=LN)))
    export = lkconvnext_to_timm(atto)
    assert export.create_model_call() == \
        "timm.create_model('convnext_atto', kernel_sizes=(31, 13, 7, 7), num_classes=0)"
    assert _max_feature_difference(atto, _loaded(export), 128) <= 1e-4
    # kernel 7 LayerNorm tiny is timm's plain ConvNeXt-T
    tiny = _like_trained(build_export_backbone(dict(type='LKConvNeXt', arch='tiny',
                                                    norm_cfg=LN)))
    export = lkconvnext_to_timm(tiny)
    assert export.create_model_call() == \
        "timm.create_model('convnext_tiny', kernel_sizes=(7, 7, 7, 7), num_classes=0)"
    assert _max_feature_difference(tiny, _loaded(export), 64) <= 1e-4


def test_the_variant_table_is_timms():
    with torch.device('meta'):
        for name, expected in TIMM_VARIANTS.items():
            model = timm.create_model(f'convnext_{name}', num_classes=0)
            depths = tuple(len(stage.blocks) for stage in model.stages)
            dims = tuple(stage.blocks[0].conv_dw.out_channels for stage in model.stages)
            conv_mlp = isinstance(model.stages[0].blocks[0].mlp.fc1, nn.Conv2d)
            assert (depths, dims, conv_mlp) == (expected['depths'], expected['dims'],
                                                expected['conv_mlp']), name


def test_batchnorm_relu_and_other_options_are_expressed():
    # the demo backbone: BatchNorm, a custom width, layer scale 1.0
    demo = _like_trained(build_export_backbone(Config.fromfile(DINO_DEMO).model.backbone))
    export = lkconvnext_to_timm(demo)
    assert "norm_layer='batchnorm2d', conv_mlp=True" in export.create_model_call()
    assert _max_feature_difference(demo, _loaded(export), 96) <= 1e-4
    # ReLU, LayerNorm eps 1e-5, no layer scale (exported as 1), 2-channel input
    other = _backbone(kernel_size=9, act_cfg=dict(type='ReLU'), norm_cfg=dict(type='LN2d',
                      eps=1e-5), layer_scale_init_value=0, in_channels=2)
    export = lkconvnext_to_timm(other)
    assert export.kwargs == dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64),
                                 kernel_sizes=(9, 9, 9, 9), act_layer='relu', norm_eps=1e-5,
                                 in_chans=2, num_classes=0)
    model = _loaded(export)
    images = torch.randn(2, 2, 64, 64)
    with torch.no_grad():
        assert (other(images)[-1] - model(images)).abs().max() <= 1e-4


@pytest.mark.parametrize('changes, message', [
    (dict(mlp_ratio=3.), 'mlp_ratio: stage 0 expands 16 channels to 48'),
    (dict(act_cfg=dict(type='Sigmoid')), 'act_cfg: Sigmoid'),
    (dict(norm_cfg=dict(type='GN', num_groups=4)), 'norm_cfg: GroupNorm'),
    (dict(norm_cfg=dict(type='BN', eps=1e-3)), 'norm_cfg: BatchNorm eps=0.001'),
    (dict(arch=dict(depths=[1, 1, 1], channels=[16, 32, 48])), "arch: 3 stages; timm's"),
    (dict(stem_patch_size=2), "stem_patch_size=2: timm's ConvNeXt plans its strides"),
    (dict(stem_patch_size=8), 'stem_patch_size=8'),
])
def test_what_timm_cannot_express_is_refused_naming_it(changes, message):
    cfg = dict(dict(type='LKConvNeXt', arch=SMALL, norm_cfg=LN, kernel_size=7), **changes)
    with pytest.raises(TimmExportError, match=message.replace('(', r'\(')):
        lkconvnext_to_timm(build_export_backbone(cfg))


def test_non_convnext_backbones_and_non_linear_mixers_are_refused():
    with pytest.raises(TimmExportError, match="type='mmpretrain.VisionTransformer'"):
        build_export_backbone(dict(type='mmpretrain.VisionTransformer', arch='small'))
    not_a_filter = nn.Sequential(DepthwiseConv2d(4, 5), nn.ReLU())
    with pytest.raises(TimmExportError, match='is not one 7x7 depthwise convolution'):
        dense_depthwise_kernel(not_a_filter, 7, 'stages.0.0.depthwise_conv')


def test_compare_with_timm_reports_the_difference():
    backbone = _backbone(kernel_size=13, lk_mode='reparam', small_kernel=5)
    export = lkconvnext_to_timm(backbone)
    same = compare_with_timm(backbone, export, image_size=64)
    assert same['max_abs_diff'] <= 1e-4 and same['max_abs_feature'] > 0.5
    export.state_dict['stages.0.blocks.0.conv_dw.weight'] += 0.5  # a wrong export shows
    assert compare_with_timm(backbone, export, image_size=64)['max_abs_diff'] > 1e-2


# ----------------------------------------------------------------------------- the tool
def test_the_tool_exports_the_teacher_of_an_ssl_checkpoint(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('lkconvnext2timm',
                                                  'tools/model_converters/lkconvnext2timm.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    backbone_cfg = Config.fromfile(DINO_DEMO).model.backbone
    teacher = _like_trained(build_export_backbone(backbone_cfg), seed=1)
    student = _like_trained(build_export_backbone(backbone_cfg), seed=2)
    state = {f'teacher.module.0.{k}': v for k, v in teacher.state_dict().items()}
    state.update({f'backbone.{k}': v for k, v in student.state_dict().items()})
    src, dst = tmp_path / 'epoch_1.pth', tmp_path / 'timm.pth'
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), src)

    report = tool.main([str(src), str(dst), '--config', DINO_DEMO, '--image-size', '64'])
    out = capsys.readouterr().out
    assert report['prefix'] == 'teacher.module.0.' and report['max_abs_diff'] <= 1e-4
    assert f'model = {report["create_model"]}' in out
    model = _timm_model(report['create_model'], torch.load(dst))
    assert _max_feature_difference(teacher, model, 64) <= 1e-4
    assert _max_feature_difference(student, model, 64) > 1e-2

    vit = 'configs/dino/dino_vit-s-p16_8xb64-100e_in1k.py'
    with pytest.raises(SystemExit, match='only LKConvNeXt backbones export'):
        tool.main([str(src), str(tmp_path / 'vit.pth'), '--config', vit])
    assert not (tmp_path / 'vit.pth').exists()
