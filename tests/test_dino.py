"""DINO: loss/center against the reference formulas, schedules, teacher, recipe pieces."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.model import convert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

import lkssl_mm  # noqa: F401
from lkssl_mm.engine.hooks import CollapseMonitorHook
from lkssl_mm.engine.optimizers import clip_grad_norm_per_param
from lkssl_mm.models import DINOHead, DINONeck, DINOTeacher
from lkssl_mm.models.heads.dino_head import teacher_temperature

DEMO_CONFIG = 'configs/demo/dino_lkconvnext-demo_1xb32-100e_synthetic.py'


@pytest.fixture(autouse=True)
def hub():
    init_default_scope('mmpretrain')
    message_hub = MessageHub.get_current_instance()
    message_hub.update_info('epoch', 0)
    message_hub.update_info('max_iters', 1000)
    yield message_hub
    message_hub.update_info('epoch', 0)


# ---------------------------------------------------------------- reference formulas
def reference_teacher_temp_schedule(warmup_temp, temp, warmup_epochs, epochs):
    """facebookresearch/dino DINOLoss.teacher_temp_schedule, restated."""
    return np.concatenate((np.linspace(warmup_temp, temp, warmup_epochs),
                           np.ones(epochs - warmup_epochs) * temp))


def reference_dino_loss(student_output, teacher_output, center, ncrops, epoch,
                        student_temp=0.1, warmup_temp=0.04, temp=0.07, warmup_epochs=3,
                        epochs=10, center_momentum=0.9):
    """The DINO loss and center update written from the paper's formulas."""
    student_out = (student_output / student_temp).chunk(ncrops)
    schedule = reference_teacher_temp_schedule(warmup_temp, temp, warmup_epochs, epochs)
    teacher_out = F.softmax((teacher_output - center) / schedule[epoch], dim=-1).chunk(2)
    total, n_terms = 0, 0
    for iq, q in enumerate(teacher_out):
        for v in range(len(student_out)):
            if v == iq:
                continue
            total += torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1).mean()
            n_terms += 1
    batch_center = torch.sum(teacher_output, dim=0, keepdim=True) / len(teacher_output)
    new_center = center * center_momentum + batch_center * (1 - center_momentum)
    return total / n_terms, new_center


@pytest.mark.parametrize('epoch', [0, 1, 2, 7])
def test_loss_and_center_match_the_reference_formulas(hub, epoch):
    torch.manual_seed(epoch)
    batch, dim, ncrops = 6, 64, 6
    head = DINOHead(dim, student_temp=0.1, teacher_temp=0.07, warmup_teacher_temp=0.04,
                    warmup_teacher_temp_epochs=3)
    head.center.copy_(torch.randn(1, dim) * 0.5)
    center = head.center.clone()
    student = torch.randn(batch * ncrops, dim) * 3
    teacher = torch.randn(batch * 2, dim) * 3
    hub.update_info('epoch', epoch)
    losses = head.loss(list(student.chunk(ncrops)), list(teacher.chunk(2)))
    expected_loss, expected_center = reference_dino_loss(student, teacher, center, ncrops,
                                                         epoch)
    assert abs(losses['loss'].item() - expected_loss.item()) <= 1e-6 * abs(expected_loss.item())
    assert torch.allclose(head.center, expected_center, rtol=1e-6, atol=1e-7)
    assert losses['teacher_temp'].item() == pytest.approx(
        reference_teacher_temp_schedule(0.04, 0.07, 3, 10)[epoch])
    for key in ('teacher_entropy', 'teacher_batch_entropy'):
        assert 0 <= losses[key].item() <= 1


@pytest.mark.parametrize('epochs, warmup', [(100, 30), (10, 3), (5, 1), (5, 0)])
def test_teacher_temperature_schedule_equals_the_reference(epochs, warmup):
    schedule = reference_teacher_temp_schedule(0.04, 0.07, warmup, epochs)
    for epoch in (0, 1, warmup // 2, max(warmup - 1, 0), warmup, epochs - 1):
        assert teacher_temperature(epoch, 0.07, 0.04, warmup) == pytest.approx(schedule[epoch])


@pytest.mark.parametrize('step', [1, 10, 250, 500, 999])
def test_teacher_momentum_follows_the_cosine_schedule(hub, step):
    student = nn.Linear(4, 3)
    teacher = DINOTeacher(student, momentum=0.004)
    teacher.update_parameters(student)  # step 0 copies
    assert torch.equal(teacher.module.weight, student.weight)
    with torch.no_grad():
        student.weight.add_(1.0)
    before = teacher.module.weight.detach().clone()
    teacher.steps.fill_(step)
    teacher.update_parameters(student)
    # reference: m = 1 - (1 - 0.996) * (cos(pi * k / K) + 1) / 2
    m = 1 - (1 - 0.996) * (math.cos(math.pi * step / 1000) + 1) / 2
    expected = m * before + (1 - m) * student.weight.detach()
    assert torch.allclose(teacher.module.weight, expected, atol=1e-7)
    assert int(teacher.steps) == step + 1


def test_teacher_keeps_its_own_batchnorm_statistics():
    student = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    teacher = DINOTeacher(student)
    student(torch.randn(8, 3, 4, 4) + 5)  # student stats move
    teacher.update_parameters(student)
    assert torch.equal(teacher.module[1].running_mean, torch.zeros(4))


def schedule_values(cfg_path, iters_per_epoch):
    """lr and weight decay of the first param group with decay, per iteration."""
    cfg = Config.fromfile(cfg_path)
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    schedulers = []
    for sched in cfg.param_scheduler:
        sched = dict(sched)
        scheduler_cls = PARAM_SCHEDULERS.get(sched.pop('type'))
        assert sched.pop('convert_to_iter_based')
        schedulers.append(scheduler_cls.build_iter_from_epoch(
            wrapper, **sched, epoch_length=iters_per_epoch))
    lrs, wds, flat_wds = [], [], []
    groups = wrapper.optimizer.param_groups
    decayed = next(g for g in groups if g['weight_decay'] > 0)
    flat = next(g for g in groups if g['params'][0].dim() == 1)
    for _ in range(cfg.max_epochs * iters_per_epoch):
        lrs.append(decayed['lr'])
        wds.append(decayed['weight_decay'])
        flat_wds.append(flat['weight_decay'])
        wrapper.step()
        for scheduler in schedulers:
            scheduler.step()
    return cfg, np.array(lrs), np.array(wds), np.array(flat_wds)


def reference_cosine(base, final, total_iters, warmup_iters=0, start_warmup=0):
    """facebookresearch/dino utils.cosine_scheduler, restated."""
    warmup = np.linspace(start_warmup, base, warmup_iters)
    iters = np.arange(total_iters - warmup_iters)
    cosine = final + 0.5 * (base - final) * (1 + np.cos(np.pi * iters / len(iters)))
    return np.concatenate((warmup, cosine))


def test_lr_and_weight_decay_schedules_follow_the_reference():
    iters_per_epoch = 7
    cfg, lrs, wds, flat_wds = schedule_values(
        'configs/_base_/schedules/dino_adamw_100e.py', iters_per_epoch)
    total = cfg.max_epochs * iters_per_epoch
    warmup = cfg.warmup_epochs * iters_per_epoch
    base_lr = cfg.optim_wrapper.optimizer.lr
    # cosine part: exactly DINO's cosine from base lr to 1e-6 after the warm-up
    expected_lr = reference_cosine(base_lr, 1e-6, total, warmup)
    assert np.allclose(lrs[warmup:], expected_lr[warmup:], rtol=1e-6, atol=1e-12)
    # warm-up: DINO's linspace(0, base, warmup) except for the start factor 1e-4
    steps = np.arange(warmup)
    assert np.allclose(lrs[:warmup], base_lr * (1e-4 + (1 - 1e-4) * steps / (warmup - 1)))
    assert np.allclose(lrs[:warmup], expected_lr[:warmup], rtol=0, atol=1e-4 * base_lr)
    # weight decay: DINO's cosine 0.04 -> 0.4 over the whole run, none on flat params
    assert np.allclose(wds, reference_cosine(0.04, 0.4, total), rtol=1e-6)
    assert np.all(flat_wds == 0)


def test_per_parameter_clipping_matches_the_reference_rule():
    torch.manual_seed(0)
    params = [nn.Parameter(torch.randn(5, 5)) for _ in range(3)]
    scales = [0.1, 10.0, 100.0]
    for p, s in zip(params, scales):
        p.grad = torch.randn(5, 5) * s
    originals = [p.grad.clone() for p in params]
    largest = clip_grad_norm_per_param(params, 3.0)
    assert largest == pytest.approx(max(g.norm().item() for g in originals), rel=1e-6)
    for p, g in zip(params, originals):
        norm = g.norm()
        coef = 3.0 / (norm + 1e-6)  # DINO utils.clip_gradients
        expected = g * coef if coef < 1 else g
        assert torch.allclose(p.grad, expected, rtol=1e-6)


def build_demo_dino(backbone_overrides=None):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.backbone.update(backbone_overrides or {})
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def views(batch=4, globals_=2, locals_=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, 3, 64, 64, generator=generator) for _ in range(globals_)] + \
        [torch.randn(batch, 3, 32, 32, generator=generator) for _ in range(locals_)]


def test_teacher_gets_no_gradients_and_sees_only_global_crops():
    _, model = build_demo_dino()
    seen = {'student': [], 'teacher': []}
    model.backbone.register_forward_hook(
        lambda m, i, o: seen['student'].append(tuple(i[0].shape)))
    model.teacher.module[0].register_forward_hook(
        lambda m, i, o: seen['teacher'].append(tuple(i[0].shape)))
    losses = model.loss(views(), None)
    losses['loss'].backward()
    # one student forward per resolution group, the teacher on the 2 globals only
    assert seen['student'] == [(8, 3, 64, 64), (12, 3, 32, 32)]
    assert seen['teacher'] == [(8, 3, 64, 64)]
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    assert any(p.grad is not None for p in model.backbone.parameters())
    assert torch.isfinite(losses['loss'])


def test_first_epoch_freezes_the_prototype_layer(hub):
    cfg, model = build_demo_dino()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    last = model.neck.last_layer.weight_v
    for epoch, should_move in ((0, False), (1, True)):
        hub.update_info('epoch', epoch)
        before_last = last.detach().clone()
        before_mlp = model.neck.mlp[0].weight.detach().clone()
        wrapper.update_params(model.loss(views(seed=epoch), None)['loss'])
        assert torch.equal(last, before_last) != should_move
        assert not torch.equal(model.neck.mlp[0].weight, before_mlp)
    assert not model.neck.last_layer.weight_g.requires_grad  # norm_last_layer


def test_bn_in_head_and_syncbn_conversion_reach_student_and_teacher():
    neck = DINONeck(32, hidden_channels=16, bottleneck_channels=8, out_channels=10, use_bn=True)
    assert any(isinstance(m, nn.BatchNorm1d) for m in neck.modules())
    assert neck(torch.randn(4, 32)).shape == (4, 10)
    assert neck((torch.randn(4, 32, 3, 3), )).shape == (4, 10)  # feature maps are pooled
    _, model = build_demo_dino(dict(norm_cfg=dict(type='BN')))
    converted = convert_sync_batchnorm(model)
    bns = [m for m in converted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and all(isinstance(m, nn.SyncBatchNorm) for m in bns)
    assert any(isinstance(m, nn.SyncBatchNorm) for m in converted.teacher.modules())


def test_neck_rejects_a_backbone_of_another_width():
    neck = DINONeck(64, hidden_channels=16, bottleneck_channels=8, out_channels=10)
    with pytest.raises(ValueError, match='in_channels is 64'):
        neck(torch.randn(2, 32))


class _FakeRunner:

    def __init__(self, hub, it):
        import logging
        self.message_hub = hub
        self.iter = it
        self.logger = logging.getLogger('collapse-test')
        self.visualizer = type('V', (), {'add_scalars': lambda *a, **k: None})()


@pytest.mark.parametrize('entropy, batch_entropy, collapsed', [
    (0.5, 0.8, False), (0.995, 0.999, True), (0.01, 0.005, True)])
def test_collapse_monitor_warns_on_uniform_or_one_hot_teachers(hub, caplog, entropy,
                                                               batch_entropy, collapsed):
    hook = CollapseMonitorHook(interval=1, patience=2)
    hub.update_info('collapse_warnings', 0)
    for it in range(3):
        hub.update_scalar('train/teacher_entropy', entropy)
        hub.update_scalar('train/teacher_batch_entropy', batch_entropy)
        hub.update_scalar('train/kl_div', 0.1)
        with caplog.at_level('WARNING', logger='collapse-test'):
            hook.after_train_iter(_FakeRunner(hub, it), it)
    assert (hub.get_info('collapse_warnings') > 0) == collapsed
    assert ('collapsed' in caplog.text) == collapsed


@pytest.mark.parametrize('config', [
    'configs/dino/dino_vit-s-p16_8xb64-100e_in1k.py',
    'configs/dino/dino_swin-t_8xb64-100e_in1k.py',
    'configs/dino/dino_replknet-31b_8xb64-100e_in1k.py',
    'configs/dino/dino_lkconvnext-t-k51d-bn_8xb64-100e_in1k.py',
])
def test_transformer_and_replknet_baselines_train_under_the_same_recipe(config):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    cfg.model.neck.update(hidden_channels=32, bottleneck_channels=16, out_channels=64)
    cfg.model.head.out_channels = 64
    model = MODELS.build(cfg.model)
    model.init_weights()
    size = 64 if 'swin' not in config else 96
    losses = model.loss(views(batch=2, locals_=2) if size == 64 else
                        [torch.randn(2, 3, 96, 96)] * 2 + [torch.randn(2, 3, 64, 64)] * 2,
                        None)
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert cfg.optim_wrapper.type == 'DINOOptimWrapper'
    assert cfg.auto_scale_lr == dict(base_batch_size=256, enable=True)


@pytest.mark.parametrize('config', [
    'configs/mocov3/mocov3_lkconvnext-t-k13-ln_8xb512-amp-coslr-100e_in1k.py',
    'configs/byol/byol_lkconvnext-t-k13-ln_16xb256-coslr-200e_in1k.py',
])
def test_mmpretrain_mocov3_and_byol_run_with_the_large_kernel_backbone(hub, config):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.backbone.kernel_sizes == [13] * 4
    generator = torch.Generator().manual_seed(0)
    pair = [torch.randn(2, 3, 64, 64, generator=generator) for _ in range(2)]
    losses = model.loss(pair, None)
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
