"""Checkpoint conversion, k-NN, layer-wise lr decay, and that every config builds."""
import functools
import glob
import re

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
from .test_recipe_fidelity import trains_without_syncbn

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
    cfg = Config.fromfile(DEMO + 'dino_lkconvnext-demo_1xb32-100e_synthetic.py')
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.manual_seed(0)
    for param in model.teacher.parameters():
        param.data.add_(torch.randn_like(param) * 0.1)
    path = tmp_path_factory.mktemp('ssl') / 'dino.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return path, model


def test_dino_pretrained_loads_a_whole_dino_checkpoint(ssl_checkpoint):
    """DINO(pretrained=...) initialises student, teacher and center from the file."""
    path, ssl_model = ssl_checkpoint
    cfg = Config.fromfile(DEMO + 'dino_lkconvnext-demo_1xb32-100e_synthetic.py')
    cfg.model.pretrained = str(path)
    model = build_model(cfg)
    model.init_weights()
    expected = ssl_model.state_dict()
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert not torch.equal(loaded['teacher.module.0.downsample_layers.0.0.weight'],
                           loaded['backbone.downsample_layers.0.0.weight'])


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


@pytest.mark.parametrize('fp16', [False, True])
def test_knn_loop_honours_fp16_as_mmengine_test_loops_do(fp16):
    """fp16=True extracts under mmengine's autocast (bf16 on the CPU, fp16 on CUDA)."""
    from types import SimpleNamespace

    from mmengine.model import BaseDataPreprocessor, BaseModel

    from lkssl_mm.evaluation.knn import KNNTestLoop
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    seen = []

    class Backbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3)

        def forward(self, x):
            out = self.conv(x)
            seen.append(out.dtype)
            return (out, )

    class Classifier(BaseModel):
        def __init__(self):
            super().__init__(data_preprocessor=BaseDataPreprocessor())
            self.backbone = Backbone()

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return self.backbone(inputs)

    model = Classifier().to(device)
    loop = object.__new__(KNNTestLoop)  # only what feature extraction reads
    loop._runner, loop.use_teacher, loop.fp16 = SimpleNamespace(model=model), False, fp16
    torch.manual_seed(0)
    batch = dict(inputs=torch.randn(4, 3, 12, 12, device=device),
                 data_samples=[SimpleNamespace(gt_label=i % 2) for i in range(4)])
    samples = loop._features(batch)
    low = torch.float16 if device == 'cuda' else torch.bfloat16
    assert seen == [low if fp16 else torch.float32]
    assert [s['gt_label'] for s in samples] == [0, 1, 0, 1]
    loop.fp16 = False
    reference = loop._features(batch)
    for sample, ref in zip(samples, reference):
        assert sample['feature'].dtype == torch.float32
        assert torch.allclose(sample['feature'], ref['feature'], atol=2e-2)


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
#: The model each kind of config builds (kind: folder, or the benchmark's file prefix).
MODEL_TYPES = {'dino': 'DINO', 'mocov3': 'MoCoV3', 'byol': 'BYOL', 'mask_rcnn': 'MaskRCNN',
               'upernet': 'EncoderDecoder', 'knn': 'ImageClassifier',
               'linear-probe': 'ImageClassifier', 'finetune': 'ImageClassifier'}
BACKBONE_NAME = re.compile(
    r'lkconvnext-t-k(\d+)([rd]?)-([lb]n)|slak-t|replknet-31b|swin-t|vit-s-p16')


def config_kind(config: str) -> str:
    folder, name = config.split('/')[1:3]
    return name.split('_')[0] if folder == 'benchmarks' else folder


def check_backbone_is_the_named_one(backbone, match) -> None:
    """The backbone is the one the config's name promises (kernel, mixer, norm, arch)."""
    from lkssl_mm.models.layers.norm import is_layer_norm
    expected = {'replknet-31b': 'RepLKNet', 'swin-t': 'SwinTransformer',
                'vit-s-p16': 'VisionTransformer'}.get(match.group(0), 'LKConvNeXt')
    assert expected in [cls.__name__ for cls in type(backbone).__mro__]  # DINOViT is a ViT
    if expected == 'VisionTransformer':
        assert (backbone.embed_dims, backbone.patch_embed.projection.kernel_size) == (
            384, (16, 16))
    elif expected == 'SwinTransformer':
        assert backbone.embed_dims == 96 and [len(s.blocks) for s in backbone.stages] == [
            2, 2, 6, 2]
    elif match.group(0) == 'slak-t':  # SLaK-T as published: 51/49/47/13 decomposed, x1.3
        assert (backbone.depths, backbone.channels) == ([3, 3, 9, 3], [124, 249, 499, 998])
        assert backbone.kernel_sizes == [51, 49, 47, 13]
        assert tuple(backbone.stages[2][0].depthwise_conv.lkb_h.conv.weight.shape[-2:]) == (47, 5)
    elif expected == 'LKConvNeXt':
        kernel, mode, norm = int(match.group(1)), match.group(2), match.group(3)
        assert (backbone.depths, backbone.channels) == ([3, 3, 9, 3], [96, 192, 384, 768])
        assert backbone.kernel_sizes == [kernel] * 4
        mixer = backbone.stages[2][0].depthwise_conv
        shapes = {k: tuple(v.shape[-2:]) for k, v in mixer.state_dict().items()
                  if k.endswith('conv.weight') or k == 'weight'}
        assert shapes == {'': {'weight': (kernel, kernel)},
                          'r': {'lk_origin.conv.weight': (kernel, kernel),
                                'small_conv.conv.weight': (5, 5)},
                          'd': {'lkb_h.conv.weight': (kernel, 5), 'lkb_w.conv.weight': (5, kernel),
                                'small_conv.conv.weight': (5, 5)}}[mode]
        assert is_layer_norm(backbone.stages[0][0].norm) == (norm == 'ln')


@functools.cache
def pretrained_backbone_shapes(name: str) -> dict:
    """The weights (as shapes, on the meta device) of the backbone the DINO config of
    ``name`` pre-trains."""
    backbone = build_model(Config.fromfile(f'configs/dino/dino_{name}_8xb64-100e_in1k.py'),
                           'backbone')
    return {k: torch.empty(v.shape, device='meta') for k, v in backbone.state_dict().items()}


@pytest.mark.parametrize('config', FULL_CONFIGS)
def test_every_full_size_config_builds_what_its_name_says_and_fits_its_pre_training(config):
    """The model type, the backbone of the name, necks and heads that take its features,
    the runner that follows --cfg-options run_length, and (downstream) the converted DINO
    teacher of the same backbone: its path, and weights that fit."""
    from lkssl_mm.utils.preflight import check_model_shapes
    from lkssl_mm.utils.ssl_checkpoint import compare_keys
    cfg = Config.fromfile(config)
    kind, name = config_kind(config), BACKBONE_NAME.search(config)
    model = build_model(cfg)
    assert type(model).__name__ == MODEL_TYPES[kind]
    check_backbone_is_the_named_one(model.backbone, name)
    check_model_shapes(model)  # raises naming the neck or head that does not fit
    assert cfg.runner_type == 'RunLengthRunner'
    assert 'lkssl_mm' in cfg.custom_imports['imports']
    if kind != 'knn':  # and every BatchNorm that trains does so as SyncBN under DDP
        plain = trains_without_syncbn(cfg, model)
        assert not plain, f'{len(plain)} BatchNorm layers train per GPU, e.g. {plain[:3]}'
    if kind in ('dino', 'mocov3', 'byol'):
        assert 'train_dataloader' in cfg and 'optim_wrapper' in cfg
        return
    if kind == 'linear-probe':  # in train mode, no backbone weight is updated
        model.train()
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        updated = {id(p) for group in wrapper.optimizer.param_groups if group['lr'] > 0
                   for p in group['params']}
        assert not [n for n, p in model.backbone.named_parameters()
                    if p.requires_grad and id(p) in updated]
    if kind == 'knn':  # the checkpoint comes from the command line
        assert cfg.test_cfg.type == 'KNNTestLoop' and 'init_cfg' not in cfg.model.backbone
    else:
        assert cfg.model.backbone.init_cfg == dict(
            type='Pretrained', prefix='backbone.',
            checkpoint=f'work_dirs/pretrained/dino_{name.group(0)}_teacher.pth')
    shapes = pretrained_backbone_shapes(name.group(0))
    report = compare_keys(shapes, model.backbone)
    assert not report['missing'] and not report['mismatched'], report
    print(config, report['resized'], report['new_output_norms'][:3])


@pytest.mark.parametrize('folder', ['dino', 'mocov3', 'byol', 'mask_rcnn', 'upernet',
                                    'benchmarks'])
def test_each_config_folder_readme_lists_exactly_its_configs(folder):
    import re
    from pathlib import Path
    readme = Path(f'configs/{folder}/README.md').read_text()
    linked = set(re.findall(r'\]\(([^)/]+\.py)\)', readme))
    present = {p.name for p in Path(f'configs/{folder}').glob('*.py')}
    assert linked == present, (sorted(present - linked), sorted(linked - present))
