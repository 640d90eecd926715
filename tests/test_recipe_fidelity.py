"""Recipe fidelity that only shows at scale, checked on the real configs.

A deterministic EMA teacher, SyncBN wherever BatchNorm trains, mmseg's and mmdet's
ConvNeXt layer-decay rules, the DINO hyperparameters with their sources, the
300-epoch Transformer baselines with DINO's/EsViT's initialisation, and SLaK-T /
RepLKNet-31B at their published sizes. The reference values below name where they
come from (facebookresearch/dino at 7c446df, microsoft/esvit, mmseg 1.2.2, mmdet
3.3.0, VITA-Group/SLaK, DingXiaoH/RepLKNet-pytorch).
"""
import glob
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.model import convert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.nn.modules.batchnorm import _BatchNorm

import lkssl_mm  # noqa: F401
from lkssl_mm.analysis import backbone_complexity
from lkssl_mm.utils.builder import build_model

DINO_CONFIGS = sorted(glob.glob('configs/dino/*.py'))


def build(config: str) -> tuple:
    """The config and its model (mmpretrain, mmdet or mmseg, as the config says)."""
    cfg = Config.fromfile(config)
    return cfg, build_model(cfg)


def small_dino(config: str, init: bool = False) -> tuple:
    """A real DINO config with the 65536-prototype head shrunk (the backbone untouched)."""
    cfg = Config.fromfile(config)
    cfg.model.neck.update(hidden_channels=32, bottleneck_channels=16, out_channels=64)
    cfg.model.head.out_channels = 64
    init_default_scope('mmpretrain')
    model = build_model(cfg)
    if init:
        model.init_weights()
    return cfg, model


# ------------------------------------------------------------- 1. deterministic teacher
def stochastic_depth_modules(module: nn.Module) -> list:
    return [m for m in module.modules() if type(m).__name__ == 'DropPath' and m.drop_prob > 0]


#: One DINO config per kind of backbone the configs use: LKConvNeXt with plain LN / BN,
#: re-parameterised and decomposed kernels, SLaK-T, RepLKNet, ViT-S, Swin-T (the other
#: LKConvNeXt configs differ from these in the kernel size only).
BACKBONE_KINDS = [f'configs/dino/{name}_in1k.py' for name in (
    'dino_lkconvnext-t-k7-ln_8xb64-100e', 'dino_lkconvnext-t-k13-bn_8xb64-100e',
    'dino_lkconvnext-t-k31r-ln_8xb64-100e', 'dino_lkconvnext-t-k51d-bn_8xb64-100e',
    'dino_slak-t_8xb64-100e', 'dino_replknet-31b_8xb64-100e', 'dino_vit-s-p16_16xb64-300e',
    'dino_swin-t_16xb32-300e')]


@pytest.mark.parametrize('config', BACKBONE_KINDS)
def test_teacher_forward_is_deterministic_while_the_student_keeps_drop_path(config):
    torch.manual_seed(0)
    _, model = small_dino(config)
    model.train()
    with torch.no_grad():  # layer scales grown from 1e-6, as after some training
        for name, param in model.backbone.named_parameters():
            if name.endswith('gamma'):
                param.fill_(1.0)
    model.teacher.update_parameters(model.student())  # step 0 copies the student
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        first, second = model.teacher(images), model.teacher(images)
        student_first, student_second = model.student()(images), model.student()(images)
    assert torch.equal(first, second), (first - second).abs().max()
    # the student trains with its stochastic depth
    assert stochastic_depth_modules(model.backbone)
    assert all(m.training for m in stochastic_depth_modules(model.backbone))
    assert not torch.equal(student_first, student_second)
    # the teacher's BatchNorm layers (if any) use batch statistics, as in the reference
    teacher_bns = [m for m in model.teacher.modules() if isinstance(m, _BatchNorm)]
    assert all(m.training for m in teacher_bns)
    assert all(int(m.num_batches_tracked) == 2 for m in teacher_bns)
    # eval mode is eval mode for the whole teacher
    model.eval()
    assert not any(m.training for m in model.teacher.modules())


# --------------------------------------------------------------- 2. SyncBN under DDP
def trains_without_syncbn(cfg: Config, model: nn.Module) -> list:
    """BatchNorm layers that train as plain per-GPU BatchNorm once mmengine wraps the model.

    mmengine's runner converts the model with ``convert_sync_batchnorm(model,
    cfg.sync_bn)`` in distributed runs (``Runner.wrap_model``); what is still a plain
    BatchNorm in train mode after that computes its statistics per GPU.
    """
    model.train()
    if cfg.get('sync_bn'):
        model = convert_sync_batchnorm(model, cfg.sync_bn)
    sync_types = (nn.SyncBatchNorm, )
    try:
        from mmcv.ops import SyncBatchNorm as MMCVSyncBatchNorm
        sync_types += (MMCVSyncBatchNorm, )
    except ImportError:
        pass
    return [name for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) and not isinstance(m, sync_types) and m.training]


# tests/test_transfer.py::test_every_full_size_config_loads_and_builds_its_model applies
# the same check to every full-size config it builds anyway; the demo configs that train
# here (k-NN trains nothing).
@pytest.mark.parametrize('config', sorted(
    path for path in glob.glob('configs/demo/*.py') if not Path(path).name.startswith('knn_')))
def test_demo_configs_train_their_batchnorm_as_syncbn_under_ddp(config):
    cfg, model = build(config)
    plain = trains_without_syncbn(cfg, model)
    assert not plain, f'{len(plain)} BatchNorm layers train per GPU, e.g. {plain[:3]}'


def test_the_check_sees_batchnorm_inside_re_parameterised_kernels():
    """The -ln variants carry BN in their kernel branches; without sync_bn they are caught."""
    cfg, model = build('configs/dino/dino_lkconvnext-t-k51d-ln_8xb64-100e_in1k.py')
    cfg.sync_bn = None
    plain = trains_without_syncbn(cfg, model)
    assert any('lkb_h.bn' in name for name in plain)
    assert any(name.startswith('teacher.') for name in plain)


def test_cpu_launcher_still_turns_syncbn_off(monkeypatch):
    from lkssl_mm.engine.launch import setup_cpu_distributed
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.distributed, 'init_process_group', lambda **kwargs: None)
    cfg = Config.fromfile('configs/upernet/upernet_replknet-31b_8xb2-amp-160k_ade20k-512x512.py')
    cfg.launcher = 'pytorch'
    assert cfg.sync_bn == 'torch'
    setup_cpu_distributed(cfg)
    assert cfg.sync_bn is None and cfg.model.decode_head.norm_cfg.type == 'BN'


# ------------------------------------------------- 3. mmseg's / mmdet's ConvNeXt lr decay
def param_groups(constructor_cls, cfg: Config, model: nn.Module, **paramwise) -> dict:
    """``param name -> (lr, weight decay)`` as an optimizer constructor groups them."""
    wrapper_cfg = dict(cfg.optim_wrapper)
    paramwise_cfg = dict(wrapper_cfg.pop('paramwise_cfg'), **paramwise)
    groups = []
    constructor_cls(wrapper_cfg, paramwise_cfg).add_params(groups, model)
    out = {}
    for group in groups:  # ours: one parameter per group; mmdet/mmseg: several
        for name in group.get('param_names', [group.get('param_name')]):
            out[name] = (group['lr'], group['weight_decay'])
    return out


def ours_and_reference(config: str, reference_cls) -> tuple:
    """lr / wd per parameter from our constructor and from mmdet's or mmseg's."""
    from lkssl_mm.engine.optimizers import LayerDecayOptimWrapperConstructor
    cfg, model = build(config)
    # without num_layers ours counts the backbone's own ids: 6 for ConvNeXt-T, the value
    # mmdet's and mmseg's ConvNeXt-T configs give their constructor (which needs it)
    num_layers = cfg.optim_wrapper.paramwise_cfg.get('num_layers', 6)
    return (cfg, param_groups(LayerDecayOptimWrapperConstructor, cfg, model),
            param_groups(reference_cls, cfg, model, num_layers=num_layers))


def assert_same_groups(ours: dict, reference: dict) -> None:
    assert ours.keys() == reference.keys()
    different = {name: (ours[name], lr_wd) for name, lr_wd in reference.items()
                 if ours[name] != pytest.approx(lr_wd, rel=1e-9)}
    assert not different, different


CONVNEXT_UPERNET = ['configs/upernet/upernet_lkconvnext-t-k7-ln_8xb2-amp-160k_ade20k-512x512.py',
                    'configs/upernet/upernet_lkconvnext-t-k51d-ln_8xb2-amp-160k_ade20k-512x512.py',
                    'configs/upernet/upernet_slak-t_8xb2-amp-160k_ade20k-512x512.py']


@pytest.mark.parametrize('config', CONVNEXT_UPERNET)
def test_upernet_convnext_family_follows_mmseg_stage_wise_recipe(config):
    from mmseg.engine.optimizers import LearningRateDecayOptimizerConstructor
    cfg, ours, reference = ours_and_reference(config, LearningRateDecayOptimizerConstructor)
    assert cfg.model.backbone.drop_path_rate == 0.4  # convnext-tiny_upernet_...py:14
    assert cfg.optim_wrapper.paramwise_cfg == dict(decay_rate=0.9, decay_type='stage_wise',
                                                   num_layers=6)
    assert_same_groups(ours, reference)
    base = cfg.optim_wrapper.optimizer.lr
    # one lr per stage; the output norms and the heads keep the full lr
    assert ours['backbone.stages.3.0.pointwise_conv1.weight'][0] == pytest.approx(base * 0.9 ** 3)
    assert ours['backbone.stages.0.0.pointwise_conv1.weight'][0] == pytest.approx(base * 0.9 ** 6)
    assert ours['backbone.downsample_layers.2.1.weight'][0] == pytest.approx(base * 0.9 ** 7)
    assert ours['backbone.norm3.weight'] == (base, 0.0)


@pytest.mark.parametrize('config', [
    'configs/mask_rcnn/mask-rcnn_lkconvnext-t-k13-bn_fpn_ms-3x_coco.py',
    'configs/mask_rcnn/mask-rcnn_lkconvnext-t-k51d-ln_fpn_ms-3x_coco.py',
    'configs/mask_rcnn/mask-rcnn_lkconvnext-t-k7-ln_fpn_1x_coco.py',
])
def test_mask_rcnn_convnext_family_follows_mmdet_layer_wise_recipe(config):
    from mmdet.engine.optimizers import LearningRateDecayOptimizerConstructor
    cfg, ours, reference = ours_and_reference(config, LearningRateDecayOptimizerConstructor)
    assert_same_groups(ours, reference)
    base = cfg.optim_wrapper.optimizer.lr
    assert ours['backbone.norm0.weight'] == (base, 0.0)  # top id, like mmdet: no decay
    assert ours['backbone.stages.3.0.pointwise_conv1.weight'][0] == pytest.approx(base * 0.95)


REPLKNET_DOWNSTREAM = ['configs/upernet/upernet_replknet-31b_8xb2-amp-160k_ade20k-512x512.py',
                       'configs/mask_rcnn/mask-rcnn_replknet-31b_fpn_1x_coco.py']


@pytest.mark.parametrize('config', REPLKNET_DOWNSTREAM)
def test_replknet_downstream_configs_name_replknet_own_rule(config):
    """RepLKNet's UperNet and detection configs: norm_decay_mult=0, nothing else
    (segmentation/configs/RepLKNet-31B_1Kpretrain_upernet_160k_ade20k_512.py:14, detection/
    configs/RepLKNet-31B_1Kpretrain_cascade_mask_rcnn_3x_coco.py:57)."""
    cfg = Config.fromfile(config)
    assert cfg.optim_wrapper.constructor == 'DefaultOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.0)
    if 'upernet' in config:  # RepLKNet_upernet.py:10
        assert cfg.model.backbone.drop_path_rate == 0.5


def test_replknet_upernet_decays_everything_but_norm_layers_at_one_lr():
    from mmengine.optim import DefaultOptimWrapperConstructor
    cfg, model = build(REPLKNET_DOWNSTREAM[0])
    wrapper_cfg = dict(cfg.optim_wrapper)
    groups = []
    DefaultOptimWrapperConstructor(wrapper_cfg, wrapper_cfg.pop('paramwise_cfg')).add_params(
        groups, model)
    base_wd = cfg.optim_wrapper.optimizer.weight_decay
    weight_decay = {id(p): g.get('weight_decay', base_wd) for g in groups for p in g['params']}
    norm_params = {id(p) for m in model.modules()
                   if isinstance(m, (_BatchNorm, nn.GroupNorm, nn.LayerNorm))
                   for p in m.parameters(recurse=False)}
    assert norm_params and all('lr' not in g for g in groups)  # one lr for all
    wrong = [name for name, p in model.named_parameters()
             if weight_decay[id(p)] != (0.0 if id(p) in norm_params else base_wd)]
    assert not wrong, wrong[:5]
    assert weight_decay[id(model.decode_head.conv_seg.bias)] == base_wd


def library_config(tmp_path: Path, reference: str) -> Config:
    """A config shipped with an OpenMMLab wheel, loaded as our configs inherit it."""
    path = tmp_path / 'reference.py'
    path.write_text(f'_base_ = [{reference!r}]\n')
    return Config.fromfile(str(path))


def test_mask_rcnn_3x_keeps_every_value_of_mmdet_convnext_t_3x(tmp_path):
    ours = Config.fromfile('configs/mask_rcnn/mask-rcnn_lkconvnext-t-k13-ln_fpn_ms-3x_coco.py')
    reference = library_config(
        tmp_path, 'mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py')
    for key in ('param_scheduler', 'train_cfg', 'auto_scale_lr'):
        assert ours[key] == reference[key], key
    for key in ('type', 'optimizer', 'paramwise_cfg'):
        assert ours.optim_wrapper[key] == reference.optim_wrapper[key], key
    assert ours.train_pipeline[1:] == reference.train_pipeline[1:]
    assert ours.train_dataloader.batch_size == reference.train_dataloader.batch_size
    assert ours.model.backbone.drop_path_rate == reference.model.backbone.drop_path_rate
    for cfg in (ours, reference):
        cfg.model.pop('backbone')
        cfg.model.neck.pop('in_channels')
    assert ours.model == reference.model


def test_stage_wise_needs_stage_ids_and_names_the_alternative():
    _, model = build('configs/upernet/upernet_swin-t_8xb2-amp-160k_ade20k-512x512.py')
    cfg = dict(type='OptimWrapper', constructor='LayerDecayOptimWrapperConstructor',
               optimizer=dict(type='AdamW', lr=1e-4), paramwise_cfg=dict(decay_rate=0.9))
    with pytest.raises(TypeError, match=r"get_stage_depth\(\); SwinTransformer .*'layer_wise'"):
        build_optim_wrapper(model, dict(cfg, paramwise_cfg=dict(decay_rate=0.9,
                                                                decay_type='stage_wise')))
    with pytest.raises(ValueError, match='decay_type must be one of'):
        build_optim_wrapper(model, dict(cfg, paramwise_cfg=dict(decay_type='block_wise')))
    with pytest.raises(ValueError, match='num_layers=6 but backbone.stages.2'):
        build_optim_wrapper(model, dict(cfg, paramwise_cfg=dict(decay_rate=0.9, num_layers=6)))
    groups = build_optim_wrapper(model, cfg).optimizer.param_groups  # layer-wise works
    lrs = {g['param_name']: g['lr'] for g in groups}
    assert lrs['backbone.patch_embed.projection.weight'] == pytest.approx(1e-4 * 0.9 ** 13)
    assert lrs['decode_head.conv_seg.weight'] == pytest.approx(1e-4)


# ---------------------------------------- 4./5. DINO hyperparameters and their sources
#: facebookresearch/dino main_dino.py argument defaults (line of each): the arguments of the
#: README's 100-epoch ViT-S/16 run (README.md:162-166). Its 100-epoch ResNet-50 run
#: (README.md:204-209) keeps them for the head, loss and teacher and changes the optimizer
#: and crop scales for SGD; the ConvNeXts here keep AdamW, as ConvNeXt trains with it.
MAIN_DINO_DEFAULTS = {
    'out_dim': 65536,  # :55
    'norm_last_layer': True,  # :57
    'momentum_teacher': 0.996,  # :61
    'use_bn_in_head': False,  # :64
    'warmup_teacher_temp': 0.04,  # :68
    'teacher_temp': 0.04,  # :71
    'warmup_teacher_temp_epochs': 0,  # :74
    'weight_decay': 0.04,  # :82
    'weight_decay_end': 0.4,  # :84
    'clip_grad': 3.0,  # :87
    'batch_size_per_gpu': 64,  # :90
    'epochs': 100,  # :92
    'freeze_last_layer': 1,  # :93
    'lr': 5e-4,  # :96
    'warmup_epochs': 10,  # :99
    'min_lr': 1e-6,  # :101
    'optimizer': 'AdamW',  # :103
    'drop_path_rate': 0.1,  # :105
    'global_crops_scale': (0.4, 1.),  # :108
    'local_crops_number': 8,  # :112
    'local_crops_scale': (0.05, 0.4),  # :115
    'student_temp': 0.1,  # :365
    'center_momentum': 0.9,  # :366
}
#: README.md:185-198, "Boosting DINO performance": the published 300-epoch ViT-S/16 run.
DINO_300E_VIT_S = dict(MAIN_DINO_DEFAULTS, epochs=300, teacher_temp=0.07,
                       warmup_teacher_temp_epochs=30, norm_last_layer=False)
#: microsoft/esvit README.md:344 (view-level run: without --use_dense_prediction);
#: main_esvit.py's other defaults equal main_dino.py's (main_esvit.py:73-135).
ESVIT_300E_SWIN_T = dict(DINO_300E_VIT_S, batch_size_per_gpu=32)


def dino_arguments(cfg: Config) -> dict:
    """The main_dino.py arguments a config amounts to."""
    neck, head, wrapper = cfg.model.neck, cfg.model.head, cfg.optim_wrapper
    warmup, cosine, wd_cosine = cfg.param_scheduler
    views = next(t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'MultiCrop').views
    assert cfg.auto_scale_lr == dict(base_batch_size=256, enable=True)  # lr per 256 images
    assert warmup.end == cosine.begin and cosine.end == wd_cosine.end == cfg.train_cfg.max_epochs
    assert cosine.T_max == cosine.end - cosine.begin and wd_cosine.T_max == wd_cosine.end
    assert head.out_channels == neck.out_channels
    return dict(
        out_dim=neck.out_channels, norm_last_layer=neck.norm_last_layer,
        momentum_teacher=1 - cfg.model.base_momentum, use_bn_in_head=neck.use_bn,
        warmup_teacher_temp=head.warmup_teacher_temp, teacher_temp=head.teacher_temp,
        warmup_teacher_temp_epochs=head.warmup_teacher_temp_epochs,
        weight_decay=wrapper.optimizer.weight_decay,
        weight_decay_end=wrapper.optimizer.weight_decay * wd_cosine.eta_min_ratio,
        clip_grad=wrapper.clip_grad.max_norm, batch_size_per_gpu=cfg.train_dataloader.batch_size,
        epochs=cfg.train_cfg.max_epochs, freeze_last_layer=wrapper.freeze_last_layer_epochs,
        lr=wrapper.optimizer.lr, warmup_epochs=warmup.end, min_lr=cosine.eta_min,
        optimizer=wrapper.optimizer.type, drop_path_rate=cfg.model.backbone.drop_path_rate,
        global_crops_scale=tuple(views[0].crop_scale_range),
        local_crops_number=views[2].num_views,
        local_crops_scale=tuple(views[2].crop_scale_range),
        student_temp=head.student_temp, center_momentum=head.center_momentum)


@pytest.mark.parametrize('config', DINO_CONFIGS)
def test_dino_configs_use_the_published_arguments(config):
    expected = DINO_300E_VIT_S if 'vit-s-p16_16xb64-300e' in config else \
        ESVIT_300E_SWIN_T if 'swin-t_16xb32-300e' in config else MAIN_DINO_DEFAULTS
    arguments = dino_arguments(Config.fromfile(config))
    assert arguments.keys() == expected.keys()
    different = {k: (arguments[k], v) for k, v in expected.items()
                 if arguments[k] != pytest.approx(v)}
    assert not different, different


def test_the_300_epoch_transformer_baselines_exist_beside_the_100_epoch_ones():
    names = {Path(p).name for p in DINO_CONFIGS}
    assert {'dino_vit-s-p16_16xb64-300e_in1k.py', 'dino_swin-t_16xb32-300e_in1k.py',
            'dino_vit-s-p16_8xb64-100e_in1k.py', 'dino_swin-t_8xb64-100e_in1k.py'} <= names


def test_every_dino_hyperparameter_names_its_source():
    """Each value of the DINO algorithm base carries a file:line comment."""
    lines = Path('configs/_base_/models/dino.py').read_text().splitlines()
    values = [line for line in lines if re.match(r'\s+\w+=(?!dict\()', line)
              and not re.match(r"\s+type='", line)]
    assert len(values) == 14
    for line in values:
        assert re.search(r'#.*\w+\.py:\d+', line), f'no source for: {line.strip()}'
    table = Path('docs/dino.md').read_text()
    for argument in MAIN_DINO_DEFAULTS:
        assert f'`--{argument}`' in table or f'`{argument}`' in table, argument


# ------------------------------------------- 5. DINO's / EsViT's initialisation
def backbone_of(config: str) -> nn.Module:
    torch.manual_seed(0)
    _, model = small_dino(config, init=True)
    return model.backbone


@pytest.mark.parametrize('config', ['configs/dino/dino_vit-s-p16_16xb64-300e_in1k.py',
                                    'configs/dino/dino_vit-s-p16_8xb64-100e_in1k.py'])
def test_vit_is_initialised_as_in_dino(config):
    vit = backbone_of(config)
    assert type(vit).__name__ == 'DINOViT'
    # vision_transformer.py:161-172: trunc-normal 0.02 for the class token, the position
    # embedding and every Linear weight, zero biases, LayerNorm 1 / 0
    for name in ('cls_token', 'pos_embed'):
        assert getattr(vit, name).std().item() == pytest.approx(0.02, rel=0.1), name
    linears = [(n, m) for n, m in vit.named_modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 12 * 4
    for name, linear in linears:
        assert linear.weight.std().item() == pytest.approx(0.02, rel=0.05), name
        assert torch.count_nonzero(linear.bias) == 0, name
    for module in vit.modules():
        if isinstance(module, nn.LayerNorm):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
    # the patch embedding keeps PyTorch's default (DINO does not re-initialise it)
    conv = vit.patch_embed.projection
    assert conv.weight.abs().max().item() <= (1 / conv.weight[0].numel()) ** 0.5
    # same parameters as mmpretrain's VisionTransformer, which the downstream configs build
    downstream = Config.fromfile('configs/_base_/models/vit-s-p16.py').backbone
    from mmpretrain.registry import MODELS
    assert vit.state_dict().keys() == MODELS.build(downstream).state_dict().keys()


@pytest.mark.parametrize('config', ['configs/dino/dino_swin-t_16xb32-300e_in1k.py',
                                    'configs/dino/dino_swin-t_8xb64-100e_in1k.py'])
def test_swin_is_initialised_as_in_esvit(config):
    swin = backbone_of(config)
    # microsoft/esvit models/swin_transformer.py:658-666
    for name, module in swin.named_modules():
        if isinstance(module, nn.Linear):
            assert module.weight.std().item() == pytest.approx(0.02, rel=0.1), name
            assert module.bias is None or torch.count_nonzero(module.bias) == 0, name


# ------------------------------------------- 6. SLaK-T and RepLKNet-31B as published
def test_slak_t_has_slak_t_published_size():
    """30M / 5.0G at 224x224 (VITA-Group/SLaK README.md:45).

    SLaK trains with 40 % of every conv and linear weight masked (sparse_core.py:119-132
    masks all 2-D and 4-D parameters and keeps 60 % of them overall) and publishes the
    weights left: here, dense, the same count is the dense one minus 40 % of those
    weights, and must round to the published figure. FLOPs depend on how SNIP spreads
    the sparsity over the layers (data-dependent, not published); an even spread gives
    5.22G. The tolerance, 5 %, covers the gap between that even-spread estimate and all
    five published SLaK sizes (+0.0 to +4.5 %; configs/README.md, "Published sizes").
    """
    cfg = Config.fromfile('configs/_base_/models/slak-t.py')
    # widths int(1.3 x ConvNeXt-T's), as SLaK's own UperNet config lists them
    # (upernet_slak_tiny_512_160k_ade20k_ss.py), kernels 51/49/47/13 (README.md:108)
    assert cfg.backbone.arch.channels == [124, 249, 499, 998]
    assert list(cfg.backbone.kernel_size) == [51, 49, 47, 13]
    size = backbone_complexity('configs/_base_/models/slak-t.py', sparsity=0.4)
    assert round(size['params'] / 1e6) == 30
    assert size['flops'] / 1e9 == pytest.approx(5.0, rel=0.05)
    assert size['dense_params'] > 50e6  # what the dense network here really holds


def test_replknet_31b_has_replknet_31b_published_size():
    """79M / 15.3G at 224x224 (DingXiaoH/RepLKNet-pytorch README.md:78), inference form.

    Published sizes are of the re-parameterised network: large and small kernels merged
    and BatchNorm folded into the convolutions. Parameters must round to 79M; FLOPs agree
    to 1 % (counters differ by whether they count what BN folds away, 0.5 % here).
    """
    cfg = Config.fromfile('configs/_base_/models/replknet-31b.py')
    assert cfg.backbone.arch == '31B'  # mmpretrain's: kernels 31/29/27/13, 2/2/18/2 blocks
    size = backbone_complexity('configs/_base_/models/replknet-31b.py', deploy=True)
    assert round(size['params'] / 1e6) == 79
    assert size['flops'] / 1e9 == pytest.approx(15.3, rel=0.01)


def test_get_flops_counts_backbone_bases_as_published(capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('get_flops', 'tools/analysis/get_flops.py')
    get_flops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(get_flops)
    main = get_flops.main
    base = 'configs/_base_/models/lkconvnext-demo.py'
    dense = main([base, '--shape', '64'])
    sparse = main([base, '--shape', '64', '--sparsity', '0.4'])
    assert '"sparsity": 0.4' in capsys.readouterr().out  # the JSON it prints
    assert dense['params'] == dense['dense_params'] == sparse['dense_params']
    assert 0.6 * dense['params'] < sparse['params'] < 0.62 * dense['params']
    with pytest.raises(SystemExit):  # --sparsity is for backbone base configs only
        main(['configs/demo/knn_lkconvnext-demo_synthetic.py', '--sparsity', '0.4'])
    with pytest.raises(ValueError, match=r'sparsity must be in \[0, 1\)'):
        backbone_complexity(base, sparsity=1.0)
