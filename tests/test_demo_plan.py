"""The demo's tables and step plan: what runs, how often, with which config and schedule."""
import os.path as osp
import sys
from dataclasses import replace

import pytest
from mmengine.config import Config

from lkssl_mm.datasets import data_options
from lkssl_mm.engine.run_length import fit_run_length

from .conftest import ROOT
from .test_run_length import assert_ends_at, schedule

sys.path.insert(0, str(ROOT / 'tools'))

from demo_pipeline import (  # noqa: E402
    BACKBONES,
    COMPARISONS,
    SIZES,
    TASKS,
    Demo,
    build_plan,
    by_name,
    cnn_backbone,
)
from demo_pipeline.runner import random_skipped  # noqa: E402
from demo_pipeline.steps import ACTIONS  # noqa: E402

DEMO_CONFIGS = ROOT / 'configs' / 'demo'
#: Iterations per epoch of the small demo: 1280 classification images, 192 detection ones.
SMALL_EPOCH_LENGTH = dict(pretrain=1280 // 32, linear=1280 // 64, detection=192 // 4)


def _names(plan):
    return [step.name for step in plan]


def test_the_plan_runs_every_task_for_every_backbone_and_initialisation():
    plan = build_plan(SIZES['tiny'])
    per_backbone = [t for t in TASKS if t.scope == 'backbone']
    per_init = [t for t in TASKS if t.scope == 'init']
    assert len(plan) == 1 + len(BACKBONES) * (len(per_backbone) + 2 * len(per_init))
    assert len(set(_names(plan))) == len(plan)
    for backbone in BACKBONES:
        for task in per_init:
            assert {s.init for s in plan if s.backbone == backbone and s.task == task} == \
                {'dino', 'random'}
        # what an evaluation needs is made before it, per backbone
        names = _names(plan)
        first_eval = min(names.index(f'{t.name}_dino_{backbone.name}') for t in per_init)
        assert names.index(f'convert_{backbone.name}') < first_eval
        assert names.index(f'random_{backbone.name}') < first_eval
        assert names.index(f'pretrain_{backbone.name}') < names.index(f'convert_{backbone.name}')
    assert plan[0].name == 'data'


def test_a_size_can_leave_out_random_baselines_to_fit_its_budget():
    """The small demo runs Mask R-CNN from the DINO backbones only (its budget); every
    other task keeps its random-init baseline, and the report names what was left out."""
    small, full = build_plan(SIZES['small']), build_plan(SIZES['full'])
    assert SIZES['small'].skip_random == ('detection', )
    assert len(small) == len(full) - len(BACKBONES)
    assert {s.name for s in full} - {s.name for s in small} == \
        {f'detection_random_{b.name}' for b in BACKBONES}
    assert {f'detection_dino_{b.name}' for b in BACKBONES} <= set(_names(small))
    assert random_skipped(small) == ['detection'] and random_skipped(full) == []
    three = build_plan(SIZES['small'], seeds=3)
    assert not [s for s in three if s.task.name == 'detection' and s.init != 'dino']
    with pytest.raises(ValueError, match=r"skip_random names \['pretrain'\]"):
        build_plan(replace(SIZES['small'], skip_random=('pretrain', )))


def test_more_seeds_add_only_the_new_fine_tuning_runs():
    one, three = build_plan(SIZES['small']), build_plan(SIZES['small'], seeds=3)
    added = [name for name in _names(three) if name not in _names(one)]
    assert set(_names(one)) <= set(_names(three))
    per_seed = [t for t in TASKS if t.per_seed]
    # per fine-tuned task, backbone and initialisation: seeds 1 and 2
    runs = sum(1 if t.name in SIZES['small'].skip_random else 2 for t in per_seed)
    assert len(added) == runs * len(BACKBONES) * 2
    assert all(name.endswith(('_s1', '_s2')) for name in added)
    assert 'linear_random_swin_s2' in added and 'knn_dino_vit_s1' not in _names(three)


def test_adding_a_backbone_or_a_task_is_one_row():
    k7 = cnn_backbone(7)
    plan = build_plan(SIZES['small'], backbones=(*BACKBONES, k7))
    new = [s for s in plan if s.backbone == k7]
    assert len(new) == len(plan) - len(build_plan(SIZES['small']))
    assert {s.name for s in new} >= {'pretrain_k7', 'knn_random_k7', 'detection_dino_k7'}
    assert all('model.backbone.kernel_size=7' in s.options for s in new)
    probe = replace(by_name(TASKS, 'linear', 'task'), name='probe2')
    plan = build_plan(replace(SIZES['small'], lengths=dict(SIZES['small'].lengths, probe2=2)),
                      tasks=(*TASKS, probe))
    assert {s.length for s in plan if s.task == probe} == {2}
    assert len([s for s in plan if s.task == probe]) == 2 * len(BACKBONES)


def test_a_plan_of_some_tasks_evaluates_only_what_it_makes():
    tasks = [by_name(TASKS, name, 'task') for name in ('data', 'random', 'knn')]
    plan = build_plan(SIZES['tiny'], backbones=BACKBONES[:1], tasks=tasks, random_inits=3)
    # no pre-training, so no DINO backbone to evaluate; three random inits
    assert _names(plan) == ['data', 'random_k3', 'random_s1_k3', 'random_s2_k3',
                            'knn_random_k3', 'knn_random_s1_k3', 'knn_random_s2_k3']
    assert [s.seed for s in plan[1:4]] == [0, 1, 2]


def test_every_config_of_the_plan_exists_and_every_action_is_known():
    for step in build_plan(SIZES['small']):
        assert step.task.action in ACTIONS, step.task
        if step.task.config:
            assert (DEMO_CONFIGS / step.task.config_of(step.backbone)).is_file(), step.name
        if step.task.data:
            assert data_options(step.task.data, '/data')
    for size in SIZES.values():
        assert set(size.lengths) == {t.name for t in TASKS if t.length}
    names = {b.name for b in BACKBONES}
    assert all({c.first, c.second} <= names for c in COMPARISONS)


def test_unknown_names_and_bad_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown backbone 'resnet'; expected one of"):
        by_name(BACKBONES, 'resnet', 'backbone')
    with pytest.raises(ValueError, match='seeds and random_inits must be at least 1'):
        build_plan(SIZES['tiny'], seeds=0)
    with pytest.raises(ValueError, match=r"unknown task scope\(s\) \{'data': 'sometimes'\}"):
        build_plan(SIZES['tiny'], tasks=[replace(TASKS[0], scope='sometimes')])
    with pytest.raises(ValueError, match="demo size must be one of"):
        Demo('medium', str(tmp_path), str(tmp_path))
    demo = Demo('tiny', str(tmp_path / 'work'), str(tmp_path / 'data'))
    with pytest.raises(ValueError, match=r"no run length to change for \['knn'\]"):
        demo.plan(lengths=dict(knn=3))


@pytest.mark.parametrize('task', [t for t in TASKS if t.length], ids=lambda t: t.name)
@pytest.mark.parametrize('backbone', BACKBONES, ids=lambda b: b.name)
def test_the_shortened_runs_anneal_to_the_schedule_end(task, backbone):
    """``--epochs`` / ``--iters`` of the small demo: warm-up reached, last lr at the end."""
    config = str(DEMO_CONFIGS / task.config_of(backbone))
    full = Config.fromfile(config)
    length = SIZES['small'].lengths[task.name]
    assert length < full.train_cfg.get(f'max_{task.length}')  # the demo shortens every config
    short = Config.fromfile(config)
    fit_run_length(short, **{task.length: length})
    epoch_length = SMALL_EPOCH_LENGTH.get(task.name, 1)
    lr = schedule(short, epoch_length=epoch_length)
    assert len(lr) == length * epoch_length
    assert max(lr) > 0.9  # warmed up to (near) the base lr
    end = schedule(full, epoch_length=epoch_length)[-1]
    assert_ends_at(lr, end)
    assert lr[-1] < 0.02


def test_demo_configs_of_every_backbone_share_one_recipe_per_task():
    """Only the backbone and the layers fitted to it differ between a task's configs."""
    for task in TASKS:
        if not task.config or task.scope == 'backbone':
            continue
        configs = [Config.fromfile(str(DEMO_CONFIGS / task.config_of(b))) for b in BACKBONES]
        for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'train_dataloader',
                    'test_dataloader'):
            values = [c.get(key) for c in configs]
            assert all(v == values[0] for v in values), (task.name, key)
    assert osp.basename(by_name(TASKS, 'pretrain', 'task').config_of(BACKBONES[0])) == \
        'dino_lkconvnext-demo_1xb32-100e_synthetic.py'


#: The demo's linear probes and the full-size ones of the Transformers (and SLaK-T).
LINEAR_PROBES = sorted(str(p.relative_to(ROOT)) for p in (
    *(ROOT / 'configs' / 'benchmarks').glob('linear-probe_[sv]*.py'),
    *DEMO_CONFIGS.glob('linear-probe_*.py')))


@pytest.mark.parametrize('config', LINEAR_PROBES)
def test_linear_probes_train_only_the_head(config):
    """Every backbone weight stays frozen in training mode (mmpretrain counts stages its way)."""
    from lkssl_mm.utils.builder import build_model
    model = build_model(Config.fromfile(config))
    model.train()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.startswith(('neck.', 'head.')) for n in trainable), trainable


def test_a_work_dir_is_reused_only_with_the_settings_it_ran_with(tmp_path, capsys):
    work, data = str(tmp_path / 'work'), str(tmp_path / 'data')
    tasks = [by_name(TASKS, name, 'task') for name in ('random', 'complexity')]
    demo = Demo('tiny', work, data)
    first = demo.run(demo.plan(backbones=BACKBONES[:1], tasks=tasks))
    assert first['backbones']['k3']['complexity']['params'] == 1146784
    again = Demo('tiny', work, data)
    assert again.run(again.plan(backbones=BACKBONES[:1], tasks=tasks)) == first
    assert capsys.readouterr().out.count('done earlier') == 2
    with pytest.raises(ValueError, match=r"random_k3 \(options \['model.backbone.kernel_size=3'"
                       r"\], now \['model.backbone.kernel_size=3', 'model.backbone.drop_path_"
                       r"rate=0.1'\]\).*Use another --work-dir"):
        again.run(again.plan(backbones=BACKBONES[:1], tasks=tasks, extra_options=dict(
            random=['model.backbone.drop_path_rate=0.1'])))
    with pytest.raises(ValueError, match=r"records a demo with other settings \(data_root "
                       rf"'{data}', now '{tmp_path}/other'\)"):
        Demo('tiny', work, str(tmp_path / 'other'))
    with pytest.raises(ValueError, match=r"size 'tiny', now 'small'"):
        Demo('small', work, data)
