"""The synthetic datasets: formats readable by mmpretrain/mmdet/mmseg, determinism, reuse."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lkssl_mm.datasets import synthetic

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset, generated once for the module."""
    out = tmp_path_factory.mktemp('synthetic') / 'data'
    synthetic.generate(out, size='tiny', seed=0, verbose=False)
    return out


def _image_arrays(folder: Path) -> dict[str, np.ndarray]:
    """Decoded images and label maps under ``folder`` by relative path."""
    files = sorted(p for p in folder.rglob('*') if p.suffix.lower() in ('.jpeg', '.jpg', '.png'))
    return {str(p.relative_to(folder)): np.asarray(Image.open(p)) for p in files}


def test_layout_and_meta(tiny: Path) -> None:
    meta = json.loads((tiny / 'meta.json').read_text())
    assert meta['size'] == 'tiny' and meta['seed'] == 0
    assert meta['tasks']['cls']['num_images'] == {'train': 96, 'val': 48}
    assert meta['tasks']['cls']['classes'] == list(synthetic.CLS_CLASSES)
    assert meta['tasks']['det']['params']['img_size'] == 64
    assert meta['tasks']['seg']['palette'] == [list(c) for c in synthetic.SEG_PALETTE]
    assert len(list((tiny / 'coco' / 'train2017').glob('*.jpg'))) == 16
    ade = tiny / 'ade' / 'ADEChallengeData2016'
    assert len(list((ade / 'annotations' / 'validation').glob('*.png'))) == 8
    lines = (tiny / 'imagenet' / 'meta' / 'train.txt').read_text().splitlines()
    assert len(lines) == 96
    rel, label = lines[0].rsplit(' ', 1)
    assert rel.split('/')[0] == synthetic.CLS_CLASSES[int(label)]
    with Image.open(tiny / 'imagenet' / 'train' / rel) as img:
        assert img.size == (32, 32) and img.mode == 'RGB'


def test_mmpretrain_custom_dataset(tiny: Path) -> None:
    from mmpretrain.datasets import CustomDataset

    root = tiny / 'imagenet'
    for split, n in (('train', 96), ('val', 48)):
        ds = CustomDataset(data_root=str(root), ann_file=f'meta/{split}.txt', data_prefix=split,
                           classes=str(root / 'meta' / 'classes.txt'))
        assert len(ds) == n
        assert ds.CLASSES == synthetic.CLS_CLASSES
        labels = np.array([ds.get_data_info(i)['gt_label'] for i in range(len(ds))])
        n_cls = len(synthetic.CLS_CLASSES)
        assert np.bincount(labels).tolist() == [n // n_cls] * n_cls
        info = ds.get_data_info(5)
        assert Path(info['img_path']).is_file()
        assert Path(info['img_path']).parent.name == synthetic.CLS_CLASSES[info['gt_label']]
    # The class list may also be given as a list, and the folders can be scanned instead.
    ds = CustomDataset(data_root=str(root), data_prefix='val', classes=list(synthetic.CLS_CLASSES))
    assert len(ds) == 48 and len(ds.CLASSES) == len(synthetic.CLS_CLASSES) == 4


def test_mmdet_coco_dataset(tiny: Path) -> None:
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    from mmengine.registry import init_default_scope
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')  # other tests may have left another default scope
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    ds = CocoDataset(data_root=str(tiny / 'coco'),
                     ann_file='annotations/instances_train2017.json',
                     data_prefix=dict(img='train2017/'),
                     metainfo=dict(classes=synthetic.DET_CLASSES), pipeline=pipeline)
    assert len(ds) == 16
    assert ds.metainfo['classes'] == synthetic.DET_CLASSES
    assert ds.cat_ids == [1, 2, 3, 4]
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        h, w = item['img'].shape[:2]
        boxes, labels = item['gt_bboxes'].tensor.numpy(), item['gt_bboxes_labels']
        masks = item['gt_masks'].to_ndarray()
        assert (h, w) == (64, 64) and 1 <= len(boxes) <= 4
        assert len(masks) == len(boxes) == len(labels)
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert ((boxes[:, 2:] - boxes[:, :2]) >= 3).all()
        for box, mask in zip(boxes, masks):
            ys, xs = np.nonzero(mask)
            assert len(xs) > 0
            assert abs(xs.min() - box[0]) <= 1.5 and abs(xs.max() + 1 - box[2]) <= 1.5
            assert abs(ys.min() - box[1]) <= 1.5 and abs(ys.max() + 1 - box[3]) <= 1.5
        assert not (masks.sum(axis=0) > 1).any()  # instances do not overlap
        seen.update(labels.tolist())
    assert seen <= {0, 1, 2, 3} and len(seen) >= 3


def test_coco_metric_on_ground_truth(tiny: Path) -> None:
    import torch
    from mmdet.evaluation import CocoMetric
    from pycocotools.coco import COCO

    ann_file = str(tiny / 'coco' / 'annotations' / 'instances_val2017.json')
    coco = COCO(ann_file)
    metric = CocoMetric(ann_file=ann_file, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=synthetic.DET_CLASSES)
    for img_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
        masks = np.stack([coco.annToMask(a) for a in anns]).astype(bool)
        pred = dict(bboxes=torch.tensor(boxes), scores=torch.ones(len(anns)),
                    labels=torch.tensor([a['category_id'] - 1 for a in anns]),
                    masks=torch.from_numpy(masks))
        metric.process({}, [dict(img_id=img_id, ori_shape=(64, 64), pred_instances=pred)])
    results = metric.evaluate(len(coco.getImgIds()))
    assert results['coco/bbox_mAP'] == 1.0 and results['coco/segm_mAP'] == 1.0


def _check_seg_dataset(ds) -> None:
    assert len(ds) == 16
    assert tuple(ds.metainfo['classes']) == synthetic.SEG_CLASSES
    values = set()
    for i in range(len(ds)):
        item = ds[i]
        seg = item['gt_seg_map']
        assert seg.shape == item['img'].shape[:2] == (64, 64)
        values.update(np.unique(seg).tolist())
    assert values <= {0, 1, 2, 3, 4, 255}
    assert {0, 255} <= values and len(values & {1, 2, 3, 4}) >= 3


def test_mmseg_ade20k_dataset(tiny: Path) -> None:
    from mmengine.registry import init_default_scope
    from mmseg.datasets import ADE20KDataset, BaseSegDataset
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmseg')  # other tests may have left another default scope
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True)]
    kwargs = dict(data_root=str(tiny / 'ade' / 'ADEChallengeData2016'),
                  data_prefix=dict(img_path='images/training',
                                   seg_map_path='annotations/training'),
                  metainfo=dict(classes=synthetic.SEG_CLASSES, palette=synthetic.SEG_PALETTE),
                  reduce_zero_label=True, pipeline=pipeline)
    # mmseg only lets ADE20KDataset take a subset of the 150 ADE classes, so the synthetic
    # classes need either a subclass with its own METAINFO or BaseSegDataset (config-only).
    with pytest.raises(ValueError, match='subset'):
        ADE20KDataset(**kwargs)

    class ShapesADE(ADE20KDataset):
        METAINFO = dict(classes=synthetic.SEG_CLASSES, palette=synthetic.SEG_PALETTE)

    _check_seg_dataset(ShapesADE(**kwargs))
    _check_seg_dataset(BaseSegDataset(img_suffix='.jpg', seg_map_suffix='.png', **kwargs))


def test_seg_label_map_matches_geometry() -> None:
    sample = synthetic.render_seg(0, 'train', 3, 64)
    lm = sample.label_map
    assert lm.dtype == np.uint8 and lm.shape == (64, 64)
    assert set(np.unique(lm).tolist()) <= {0, 1, 2, 3, 4, 5}
    assert 2 <= len(sample.shapes) <= 5
    top = sample.shapes[-1]  # drawn last, so its centre pixel carries its label
    cx, cy = int(top.cx), int(top.cy)
    assert lm[cy, cx] == 2 + synthetic.SHAPES.index(top.kind)


def test_cls_objects_share_the_class_shape() -> None:
    size = 64
    counts, colour_sets = set(), []
    for index in range(40):
        sample = synthetic.render_cls(0, 'train', index, size)
        assert sample.label == index % len(synthetic.CLS_CLASSES)
        lo, hi = synthetic.CLS_OBJECTS
        assert lo <= len(sample.shapes) <= hi
        counts.add(len(sample.shapes))
        for i, shape in enumerate(sample.shapes):
            assert shape.kind == synthetic.CLS_CLASSES[sample.label]
            assert shape.radius <= shape.cx <= size - shape.radius
            assert shape.radius <= shape.cy <= size - shape.radius
            for other in sample.shapes[i + 1:]:  # no two objects overlap
                assert math.hypot(shape.cx - other.cx, shape.cy - other.cy) > (
                    shape.radius + other.radius)
        colour_sets.append({synthetic.palette_index(s.color) for s in sample.shapes})
    assert counts == set(range(synthetic.CLS_OBJECTS[0], synthetic.CLS_OBJECTS[1] + 1))
    # colours vary within an image: most images show three or more palette colours
    assert sum(len(c) >= 3 for c in colour_sets) >= 30


def test_cls_nuisances_independent_of_class() -> None:
    colours, greys = {}, []
    for index in range(96):
        sample = synthetic.render_cls(0, 'train', index, 48)
        colours.setdefault(sample.label, set()).update(
            synthetic.palette_index(s.color) for s in sample.shapes)
        greys.append(float(np.median(sample.image.astype(np.float32).mean(axis=2))))
    assert all(c == set(range(len(synthetic.OBJECT_PALETTE))) for c in colours.values())
    # one background level for every image (only its faint gradient and texture vary)
    assert max(abs(g - synthetic.CLS_BACKGROUND_LEVEL) for g in greys) < 12


def test_deterministic(tmp_path: Path, tiny: Path) -> None:
    other = tmp_path / 'again'
    synthetic.generate(other, size='tiny', seed=0, verbose=False, workers=2)
    for rel in ('meta.json', 'imagenet/meta/train.txt', 'imagenet/meta/val.txt',
                'coco/annotations/instances_train2017.json',
                'coco/annotations/instances_val2017.json'):
        assert (tiny / rel).read_bytes() == (other / rel).read_bytes(), rel
    first, second = _image_arrays(tiny), _image_arrays(other)
    assert first.keys() == second.keys() and len(first) == 144 + 24 + 48
    assert all(np.array_equal(first[k], second[k]) for k in first)
    changed = synthetic.render_det(1, 'train', 0, 64)
    assert not np.array_equal(changed.image, synthetic.render_det(0, 'train', 0, 64).image)


def test_skip_when_meta_matches(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / 'data'
    synthetic.generate(out, size='tiny', tasks=('det', ), verbose=False)
    ann = out / 'coco' / 'annotations' / 'instances_val2017.json'
    ann.write_text('marker')  # a regeneration would overwrite it
    meta = synthetic.generate(out, size='tiny', tasks=('det', ))
    assert 'skipping' in capsys.readouterr().out and ann.read_text() == 'marker'
    assert set(meta['tasks']) == {'det'}
    # another task is added next to the kept one
    meta = synthetic.generate(out, size='tiny', tasks='det,seg', verbose=False)
    assert ann.read_text() == 'marker' and set(meta['tasks']) == {'det', 'seg'}
    # a different seed, --force or a missing meta.json (interrupted run) regenerate
    synthetic.generate(out, size='tiny', tasks=('det', ), seed=1, verbose=False)
    assert ann.read_text() != 'marker'
    ann.write_text('marker')
    synthetic.generate(out, size='tiny', tasks=('det', ), seed=1, force=True, verbose=False)
    assert ann.read_text() != 'marker'
    ann.write_text('marker')
    (out / 'meta.json').unlink()
    synthetic.generate(out, size='tiny', tasks=('det', ), seed=1, verbose=False)
    assert ann.read_text() != 'marker'


def test_bad_arguments(tmp_path: Path) -> None:
    for kwargs in (dict(size='huge'), dict(tasks=('cls', 'depth')), dict(seed=-1),
                   dict(tasks=())):
        with pytest.raises(ValueError):
            synthetic.generate(tmp_path, verbose=False, **kwargs)


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / 'cli'
    cmd = [sys.executable, str(ROOT / 'tools' / 'data' / 'make_synthetic.py'), '--out',
           str(out), '--size', 'tiny', '--tasks', 'cls', '--img-size', '40', '--seed', '3']
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert 'cls/train' in run.stdout
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['tasks']['cls']['params']['img_size'] == 40 and meta['seed'] == 3
    assert set(meta['tasks']) == {'cls'}
    with Image.open(next((out / 'imagenet' / 'val').rglob('*.JPEG'))) as img:
        assert img.size == (40, 40)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert again.returncode == 0 and 'skipping' in again.stdout
    bad = subprocess.run(cmd[:2] + ['--out', str(out), '--tasks', 'depth'],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and 'tasks' in bad.stderr


def test_cls_attributes_match_the_pixels() -> None:
    """The replayed colour and object count are those drawn in the image."""
    for index in range(24):
        sample = synthetic.render_cls(0, 'train', index, 64)
        attributes = synthetic.cls_attributes(0, 'train', index, 64)
        assert set(attributes) == set(synthetic.CLS_ATTRIBUTES)
        assert attributes['class'] == sample.label == index % len(synthetic.CLS_CLASSES)
        largest = max(sample.shapes, key=lambda shape: shape.radius)
        centre = sample.image[int(largest.cy), int(largest.cx)]
        assert attributes['largest_colour'] == synthetic.palette_index(centre), index
        assert attributes['object_count'] == len(sample.shapes) - synthetic.CLS_OBJECTS[0]
        for name, value in attributes.items():
            assert 0 <= value < synthetic.CLS_ATTRIBUTES[name], name


# ----------------------------------------------------------------------------- the package
#: Digest of every file of the tiny preset (seed 0) over (relative path, sha256 of the
#: bytes): what generator version 4 wrote as one module, before it became a package.
#: It depends on numpy's and Pillow's drawing and JPEG code (pinned versions).
TINY_FILES, TINY_DIGEST = 222, '96b0b3c50c099f0406be697cf0b103dee9f18d3da2acec8c15d3ae02719acd0f'


def tree_digest(root: Path) -> tuple[int, str]:
    import hashlib
    digest, files = hashlib.sha256(), sorted(p for p in root.rglob('*') if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b'\0' +
                      hashlib.sha256(path.read_bytes()).digest())
    return len(files), digest.hexdigest()


def test_the_package_writes_the_same_bytes_as_the_module_did(tiny: Path) -> None:
    assert tree_digest(tiny) == (TINY_FILES, TINY_DIGEST)


def test_a_new_task_is_one_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A format subclass listed in FORMATS is generated, recorded and pointed at."""
    from lkssl_mm.datasets.synthetic.formats import FORMATS, DatasetFormat, save_jpeg

    class Thumbnails(DatasetFormat):
        task, folder = 'thumbs', 'thumbnails'
        presets = {size: (24, 3, 2) for size in synthetic.SIZES}
        class_info = {'classes': ['shapes']}
        render = staticmethod(synthetic.render_det)

        def prepare_split(self, root, split):
            (root / split).mkdir(parents=True)

        def write_image(self, root, split, index, sample):
            save_jpeg(sample.image, root / split / f'{index}.jpg')

        def finish_split(self, root, split, size, shapes):
            return {'objects': sum(map(len, shapes))}

    monkeypatch.setitem(FORMATS, 'thumbs', Thumbnails())
    meta = synthetic.generate(tmp_path, tasks='thumbs', verbose=False)
    entry = meta['tasks']['thumbs']
    assert entry['num_images'] == {'train': 3, 'val': 2} and entry['data_root'] == 'thumbnails'
    assert set(entry['objects']) == {'train', 'val'} and entry['classes'] == ['shapes']
    assert len(list((tmp_path / 'thumbnails' / 'val').glob('*.jpg'))) == 2
    assert synthetic.data_roots(tmp_path)['thumbs'] == str(tmp_path / 'thumbnails')


def test_every_format_has_every_preset_and_its_own_stream() -> None:
    from lkssl_mm.datasets.synthetic.drawing import STREAMS
    assert tuple(synthetic.FORMATS) == synthetic.TASKS == ('cls', 'det', 'seg')
    for task, fmt in synthetic.FORMATS.items():
        assert fmt.task == task and set(fmt.presets) == set(synthetic.SIZES)
    assert len(set(STREAMS.values())) == len(STREAMS) and set(synthetic.TASKS) <= set(STREAMS)


def test_data_options_point_every_config_kind_at_its_task(tmp_path: Path) -> None:
    roots = synthetic.data_roots(tmp_path)
    assert synthetic.data_options('knn', tmp_path) == [
        f'test_dataloader.dataset.data_root={roots["cls"]}',
        f'test_cfg.memory_dataloader.dataset.data_root={roots["cls"]}']
    detection = synthetic.data_options('detection', tmp_path)
    assert detection[0] == f'train_dataloader.dataset.data_root={roots["det"]}/'
    assert detection[-1] == ('test_evaluator.ann_file='
                             f'{tmp_path}/coco/annotations/instances_val2017.json')
    assert all(roots['seg'] in o for o in synthetic.data_options('segmentation', tmp_path))
    with pytest.raises(ValueError, match="unknown config kind 'classification'"):
        synthetic.data_options('classification', tmp_path)
