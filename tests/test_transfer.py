"""Checkpoint conversion, k-NN, layer-wise lr decay, and that every config builds."""
import glob

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

import lkssl_mm  # noqa: F401
from lkssl_mm.evaluation import KNNAccuracy, knn_predict, topk_accuracy
from lkssl_mm.utils.builder import build_model
from lkssl_mm.utils.ssl_checkpoint import NotAnSSLCheckpoint, convert_ssl_checkpoint

from .conftest import run_tool

DEMO = 'configs/demo/'
DOWNSTREAM_DEMOS = {
    'classification': DEMO + 'linear-probe_lkconvnext-demo_synthetic.py',
    'detection': DEMO + 'mask-rcnn_lkconvnext-demo_fpn_synthetic.py',
    'segmentation': DEMO + 'upernet_lkconvnext-demo_synthetic.py',
}


@pytest.fixture(scope='module')
def ssl_checkpoint(tmp_path_factory):
    """A DINO checkpoint of the demo backbone, teacher and student made different."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(DEMO + 'dino_lkconvnext-demo-k13_1xb32-10e_synthetic.py')
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.manual_seed(0)
    for param in model.teacher.parameters():
        param.data.add_(torch.randn_like(param) * 0.1)
    path = tmp_path_factory.mktemp('ssl') / 'dino.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return path, model


@pytest.mark.parametrize('task', sorted(DOWNSTREAM_DEMOS))
def test_converted_teacher_loads_into_every_task_with_no_missing_backbone_weight(
        tmp_path, ssl_checkpoint, task):
    path, ssl_model = ssl_checkpoint
    out = tmp_path / 'backbone.pth'
    report = convert_ssl_checkpoint(str(path), str(out), 'teacher')
    assert report['prefix'] == 'teacher.module.0.' and report['converted'] > 0
    cfg = Config.fromfile(DOWNSTREAM_DEMOS[task])
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(out),
                                       prefix='backbone.')
    model = build_model(cfg)
    model.init_weights()
    teacher = ssl_model.teacher.module[0].state_dict()
    loaded = model.backbone.state_dict()
    missing = [k for k in loaded if k not in teacher]
    # the only new backbone weights are the norms of the extra dense-task outputs
    assert all(k.startswith(('norm0.', 'norm1.', 'norm2.')) for k in missing), missing
    for key, value in teacher.items():
        assert torch.equal(loaded[key], value), key


def test_student_can_be_chosen(tmp_path, ssl_checkpoint):
    path, ssl_model = ssl_checkpoint
    out = tmp_path / 'student.pth'
    convert_ssl_checkpoint(str(path), str(out), 'student')
    weights = torch.load(out)['state_dict']
    for key, value in ssl_model.backbone.state_dict().items():
        assert torch.equal(weights[f'backbone.{key}'], value)


def test_converter_refuses_bad_sources_and_keeps_existing_files(tmp_path, ssl_checkpoint):
    path, _ = ssl_checkpoint
    dst = tmp_path / 'out.pth'
    dst.write_bytes(b'previous result')
    garbage = tmp_path / 'garbage.pth'
    garbage.write_text('not a checkpoint')
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(path.read_bytes()[:2000])
    plain = tmp_path / 'plain.pth'
    torch.save({'state_dict': {'fc.weight': torch.ones(2, 2)}}, plain)
    for source, message in ((garbage, 'not a PyTorch checkpoint archive'),
                            (truncated, 'not a PyTorch checkpoint archive'),
                            (plain, 'no teacher backbone')):
        with pytest.raises(NotAnSSLCheckpoint, match=message):
            convert_ssl_checkpoint(str(source), str(dst), 'teacher')
    with pytest.raises(ValueError, match='refusing to overwrite the source'):
        convert_ssl_checkpoint(str(path), str(path), 'teacher')
    assert dst.read_bytes() == b'previous result'


def test_converter_cli_checks_the_target_config(tmp_path, ssl_checkpoint):
    path, _ = ssl_checkpoint
    dst = tmp_path / 'bb.pth'
    wrong = run_tool('tools/model_converters/ssl2backbone.py', str(path), str(dst),
                     '--config', 'configs/mask_rcnn/mask-rcnn_lkconvnext-t-k13-ln_fpn_1x_coco.py',
                     check=False)
    assert wrong.returncode != 0
    assert 'does not match the target config' in wrong.stderr and 'shape mismatches' in \
        wrong.stderr
    assert not dst.exists()
    ok = run_tool('tools/model_converters/ssl2backbone.py', str(path), str(dst), '--config',
                  DOWNSTREAM_DEMOS['detection'])
    assert '"new_output_norms"' in ok.stdout and dst.exists()


def brute_force_knn(train, train_labels, test, num_classes, k, temperature):
    """Per query: sort all training samples by cosine similarity, vote with exp(s/T)."""
    scores = torch.zeros(len(test), num_classes, dtype=torch.float64)
    for i, query in enumerate(test):
        sims = [(float(query @ t), int(label)) for t, label in zip(train, train_labels)]
        for sim, label in sorted(sims, key=lambda x: -x[0])[:k]:
            scores[i, label] += torch.exp(torch.tensor(sim / temperature, dtype=torch.float64))
    return scores


@pytest.mark.parametrize('k', [1, 5, 20])
def test_knn_equals_a_brute_force_reference(k):
    torch.manual_seed(k)
    train = torch.nn.functional.normalize(torch.randn(60, 16), dim=1)
    test = torch.nn.functional.normalize(torch.randn(25, 16), dim=1)
    labels = torch.randint(0, 5, (60, ))
    ours = knn_predict(train, labels, test, 5, k=k, temperature=0.07, chunk_size=7)
    reference = brute_force_knn(train.double(), labels, test.double(), 5, k, 0.07)
    assert torch.allclose(ours.double(), reference, rtol=1e-4)
    test_labels = torch.randint(0, 5, (25, ))
    expected = float((reference.argmax(1) == test_labels).double().mean() * 100)
    assert topk_accuracy(ours, test_labels, 1) == pytest.approx(expected)


def test_knn_metric_uses_the_memory_bank():
    metric = KNNAccuracy(k=(3, ), topk=(1, ))
    bank = [dict(feature=torch.tensor([1., 0.]), gt_label=0),
            dict(feature=torch.tensor([0., 1.]), gt_label=1)] * 3
    queries = [dict(feature=torch.tensor([0.9, 0.1]), gt_label=0),
               dict(feature=torch.tensor([0.1, 0.9]), gt_label=0)]
    with pytest.raises(RuntimeError, match='memory bank'):
        metric.compute_metrics(queries)
    metric.memory_bank = bank
    assert metric.compute_metrics(queries) == {'top1_k3': 50.0}


def test_layer_decay_scales_lr_by_depth_and_skips_decay_on_flat_params():
    cfg = Config.fromfile(DOWNSTREAM_DEMOS['detection'])
    model = build_model(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = {g['param_name']: g for g in wrapper.optimizer.param_groups}
    base = cfg.optim_wrapper.optimizer.lr
    stem = groups['backbone.downsample_layers.0.0.weight']
    last = groups['backbone.stages.3.0.pointwise_conv1.weight']
    head = groups['roi_head.bbox_head.fc_cls.weight']
    num_layers = model.backbone.get_layer_depth('backbone.stages.0.0.gamma', 'backbone.')[1]
    assert stem['lr'] == pytest.approx(base * 0.9 ** (num_layers - 1))
    assert last['lr'] == pytest.approx(base * 0.9) and head['lr'] == pytest.approx(base)
    assert groups['backbone.stages.0.0.gamma']['weight_decay'] == 0
    assert groups['backbone.stages.0.0.norm.weight']['weight_decay'] == 0
    assert stem['weight_decay'] == cfg.optim_wrapper.optimizer.weight_decay


FULL_CONFIGS = sorted(
    path for folder in ('dino', 'mocov3', 'byol', 'mask_rcnn', 'upernet', 'benchmarks')
    for path in glob.glob(f'configs/{folder}/*.py'))


@pytest.mark.parametrize('config', FULL_CONFIGS)
def test_every_full_size_config_loads_and_builds_its_model(config):
    cfg = Config.fromfile(config)
    model = build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) > 1e6
    for key in ('train_dataloader', 'optim_wrapper', 'default_scope') if 'knn' not in config \
            else ('test_dataloader', 'test_cfg', 'test_evaluator'):
        assert key in cfg, key
    assert 'lkssl_mm' in cfg.custom_imports['imports']


@pytest.mark.parametrize('folder', ['dino', 'mocov3', 'byol', 'mask_rcnn', 'upernet',
                                    'benchmarks'])
def test_each_config_folder_readme_lists_exactly_its_configs(folder):
    import re
    from pathlib import Path
    readme = Path(f'configs/{folder}/README.md').read_text()
    linked = set(re.findall(r'\]\(([^)/]+\.py)\)', readme))
    present = {p.name for p in Path(f'configs/{folder}').glob('*.py')}
    assert linked == present, (sorted(present - linked), sorted(linked - present))
