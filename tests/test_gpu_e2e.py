"""The GPU acceptance run (tools/analysis/gpu_e2e.sh): its parts, and its CPU dry run."""
import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction

from .conftest import ROOT

_spec = importlib.util.spec_from_file_location('gpu_e2e', ROOT / 'tools/analysis/gpu_e2e.py')
gpu_e2e = importlib.util.module_from_spec(_spec)
sys.modules['gpu_e2e'] = gpu_e2e  # its dataclasses look their module up
_spec.loader.exec_module(gpu_e2e)


def _record(step, loss, time_s, memory=None, data_time=0.01):
    record = dict(step=step, loss=loss, loss_a=loss / 2, time=time_s, data_time=data_time)
    if memory is not None:
        record['memory'] = memory
    return record


def test_train_figures_skip_the_warm_up_interval_and_see_non_finite_losses():
    records = [_record(6, 9.0, 5.0, memory=900), _record(12, 8.0, 0.2, memory=1200),
               _record(18, 7.5, 0.3, memory=1100), _record(24, 7.0, 0.25, memory=1000),
               {'coco/bbox_mAP': 0.1, 'step': 24}]
    figures = gpu_e2e.train_figures(records, images_per_iter=64)
    assert figures['iters'] == 24 and figures['steady_iters_logged'] == 3
    assert figures['it_per_s'] == pytest.approx(4.0)  # median of 0.2, 0.3, 0.25
    assert figures['img_per_s'] == pytest.approx(256.0)
    assert figures['peak_memory_mb'] == 1200
    assert figures['losses_finite'] and figures['loss_first'] == 9.0
    records[2]['loss_a'] = math.nan
    assert not gpu_e2e.train_figures(records, 64)['losses_finite']
    assert gpu_e2e.train_figures([], 64) == dict(iters=0)
    assert gpu_e2e.metric_figures(records, ['coco/bbox_mAP', 'mIoU']) == {
        'coco/bbox_mAP': 0.1, 'metrics_present': False}


@pytest.mark.parametrize('kind, config', [
    ('dino', gpu_e2e.DINO.format(gpu_e2e.PRETRAINED)), ('knn', gpu_e2e.KNN),
    ('mask_rcnn', gpu_e2e.MASK_RCNN), ('upernet', gpu_e2e.UPERNET)])
def test_toy_sizes_reach_the_real_pipelines_through_cfg_options(kind, config):
    cfg = Config.fromfile(config)
    options = gpu_e2e.transform_options(cfg, gpu_e2e.TOY_TRANSFORMS[kind])
    options += gpu_e2e.TOY_OPTIONS.get(kind, [])
    namespace = argparse.Namespace()  # parsed as tools/train.py parses them
    DictAction(option_strings=['--cfg-options'], dest='cfg_options')(None, namespace, options)
    cfg.merge_from_dict(namespace.cfg_options)
    for loader, kind_, key, _, value in gpu_e2e.TOY_TRANSFORMS[kind]:
        node = cfg
        for part in loader.split('.'):
            node = node[part]
        found = [t[key] for _, t in gpu_e2e._pipeline_paths(list(node.dataset.pipeline), '')
                 if t['type'] == kind_]
        assert value in [tuple(v) if isinstance(v, list) else v for v in found]
    if kind == 'dino':  # both global views and the local view, inside MultiCrop
        views = cfg.train_dataloader.dataset.pipeline[1].views
        assert [view['size'] for view in views] == [64, 64, 32]
    loader = gpu_e2e.TOY_TRANSFORMS[kind][0][0]
    with pytest.raises(gpu_e2e.StepError, match='no Nothing'):
        gpu_e2e.transform_options(cfg, [(loader, 'Nothing', 'scale', None, 1)])


def test_run_command_stops_the_whole_process_group_at_its_limit(tmp_path):
    marker = tmp_path / 'child_survived'
    start = time.time()
    with pytest.raises(gpu_e2e.StepError, match='time limit of 1 s'):
        gpu_e2e.run_command(['bash', '-c', f'(sleep 3; touch {marker}) & sleep 30'], 1,
                            tmp_path / 'log')
    assert time.time() - start < 10
    time.sleep(3.5)
    assert not marker.exists()
    with pytest.raises(gpu_e2e.StepError, match='exit 3'):
        gpu_e2e.run_command(['bash', '-c', 'echo bad; exit 3'], 10, tmp_path / 'log2')
    assert 'bad' in (tmp_path / 'log2').read_text()


class _FakePipeline(gpu_e2e.Pipeline):
    """The driver with stand-in steps (no training)."""

    def steps(self):
        def ok(limit):
            return dict(img_per_s=12.5)

        def boom(limit):
            (self.logs).mkdir(parents=True, exist_ok=True)
            (self.logs / 'bad.log').write_text('line 1\nTraceback: it broke\n')
            raise gpu_e2e.StepError('exit 1; see bad.log')

        def slow(limit):
            time.sleep(1.2)
            return {}

        return [gpu_e2e.Step('first', 'env', ok),
                gpu_e2e.Step('bad', 'env', boom),
                gpu_e2e.Step('after_bad', 'env', ok, needs=('bad', )),
                gpu_e2e.Step('not_here', 'env', ok, when=lambda: '1 GPU(s); needs 2'),
                gpu_e2e.Step('slow', 'env', slow),
                gpu_e2e.Step('late', 'env', ok)]


def test_steps_are_recorded_skipped_when_out_of_budget_and_reused_later(tmp_path):
    profile = gpu_e2e.Profile('test', 'tiny', 32, (64, 1, 1), (64, 1, 1), 2, 1, 1, 1, 1,
                              budget=1.0, min_start=0.5, limits=dict(env=10))
    pipeline = _FakePipeline(tmp_path / 'out', tmp_path / 'work', profile, budget=1.5)
    pipeline.run()
    records = {r['step']: r for r in pipeline.progress.records() if r['status'] != 'started'}
    assert records['first']['status'] == 'ok' and records['first']['img_per_s'] == 12.5
    assert records['bad']['status'] == 'failed'
    assert 'it broke' in records['bad']['log_tail'][-1]
    assert records['after_bad'] == dict(records['after_bad'], status='skipped', reason='needs bad')
    assert records['not_here']['reason'] == '1 GPU(s); needs 2'
    assert records['slow']['status'] == 'ok'
    assert records['late']['status'] == 'skipped'
    assert records['late']['reason'].startswith('out of budget')
    summary = pipeline.finish()
    assert '| bad | failed |' in summary and 'needs bad' in summary
    assert (tmp_path / 'out' / 'logs.tar.gz').exists()

    again = _FakePipeline(tmp_path / 'out2', tmp_path / 'work', profile, budget=100)
    again.run(only=['first', 'late'])
    records = [r for r in again.progress.records() if r['status'] != 'started']
    assert [(r['step'], r['status'], r.get('reused')) for r in records] == [
        ('first', 'ok', True), ('late', 'ok', None)]
    assert 'ok (earlier run)' in gpu_e2e.summarise(again.progress.records())


def test_rescaled_coco_and_ade_keep_their_annotations_in_place(synthetic_root, tmp_path):
    from PIL import Image
    written = gpu_e2e.rescale_coco(synthetic_root / 'coco', tmp_path / 'coco', 160,
                                   dict(train=3, val=2))
    assert written == dict(train=3, val=2)
    src = json.loads((synthetic_root / 'coco/annotations/instances_train2017.json').read_text())
    dst = json.loads((tmp_path / 'coco/annotations/instances_train2017.json').read_text())
    scale = 160 / src['images'][0]['width']
    assert [i['id'] for i in dst['images']] == [1, 2, 3]
    kept = [a for a in src['annotations'] if a['image_id'] <= 3]
    assert len(dst['annotations']) == len(kept) > 0
    for old, new in zip(kept, dst['annotations']):
        assert new['bbox'] == pytest.approx([v * scale for v in old['bbox']])
        assert new['area'] == pytest.approx(old['area'] * scale ** 2)
        assert new['segmentation'][0] == pytest.approx([v * scale for v in old['segmentation'][0]])
    with Image.open(tmp_path / 'coco/train2017' / dst['images'][0]['file_name']) as image:
        assert image.size == (160, 160)

    gpu_e2e.rescale_ade(synthetic_root / 'ade/ADEChallengeData2016', tmp_path / 'ade', 96,
                        dict(train=2, val=1))
    labels = sorted((tmp_path / 'ade/annotations/training').glob('*.png'))
    assert len(labels) == 2
    with Image.open(labels[0]) as label, Image.open(
            synthetic_root / 'ade/ADEChallengeData2016/annotations/training' /
            labels[0].name) as source:
        assert label.size == (96, 96)
        assert set(label.getdata()) <= set(source.getdata())  # nearest: no new label values


def test_setup_plan_names_the_build_and_changes_nothing(tmp_path):
    env = dict(os.environ, VIRTUAL_ENV=sys.prefix, LKSSL_CACHE=str(tmp_path / 'cache'),
               MAX_JOBS='3')
    stamp = Path(sys.prefix) / '.lkssl_mm_setup'
    before = stamp.stat().st_mtime if stamp.exists() else None
    proc = subprocess.run(['bash', 'tools/setup_env.sh', '--plan'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(Path(sys.prefix) / 'bin' / 'python')
    assert 'plan only' in proc.stderr and 'MAX_JOBS=3' in proc.stderr
    assert '-cpu' in proc.stderr  # no GPU here: a CPU build, without architectures
    assert (stamp.stat().st_mtime if stamp.exists() else None) == before
    assert not (tmp_path / 'cache').exists()
    bad = subprocess.run(['bash', 'tools/setup_env.sh', '--plan'], cwd=ROOT,
                         env=dict(env, LKSSL_WHEELHOUSE=str(tmp_path / 'missing')),
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and 'missing is not a folder' in bad.stderr


#: The dry run's steps in this test: the whole pipeline. The throughput-only DINO runs
#: (k7 ... Swin-T) and the 2-process run call the same ``Pipeline.dino`` as ``dino_k13`` with
#: another config or process count, at 2-3 minutes each on 2 shared cores; every full-size
#: config builds in tests/test_transfer.py, dist_train.sh runs in tests/test_tools_e2e.py,
#: and `gpu_e2e.sh OUT --cpu-dry-run` runs them all (docs/gpu.md).
STEPS = ['env', 'data', 'dino_k13', 'convert', 'knn', 'mask_rcnn', 'upernet']


@pytest.mark.slow
@pytest.mark.timeout(3000)
def test_cpu_dry_run_runs_the_gpu_steps_with_the_real_configs(tmp_path):
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHON=sys.executable, VIRTUAL_ENV=sys.prefix)
    proc = subprocess.run(['bash', 'tools/analysis/gpu_e2e.sh', str(out), '--cpu-dry-run',
                           '--only', ','.join(STEPS)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=2700)
    records = gpu_e2e.read_progress(out / 'progress.jsonl')
    final = {r['step']: r for r in records if r.get('status') not in ('started', None)}
    failed = {k: (v.get('error'), v.get('log_tail')) for k, v in final.items()
              if v['status'] != 'ok'}
    assert proc.returncode == 0 and not failed, (failed, proc.stderr[-3000:])
    assert list(final) == ['setup', *STEPS]
    assert final['setup']['plan_only'] and final['setup']['python'] == sys.executable
    for step in ['dino_k13', 'mask_rcnn', 'upernet']:
        assert final[step]['losses_finite'] and final[step]['img_per_s'] > 0, final[step]
    assert final['dino_k13']['iters'] == 1 and Path(final['dino_k13']['checkpoint']).exists()
    assert final['dino_k13']['config'] == 'configs/dino/dino_lkconvnext-t-k13-ln_8xb64-100e_in1k.py'
    assert final['knn']['metrics_present'] and 0 <= final['knn']['knn/top1_k20'] <= 100
    assert final['mask_rcnn']['metrics_present'] and final['upernet']['metrics_present']
    assert final['env']['mmcv_cuda_ops'] == 'cpu only (no GPU)'
    assert final['data']['det_size'] == 128 and final['data']['seg_size'] == 96
    summary = (out / 'summary.md').read_text()
    assert all(f'| {step} | ok |' in summary for step in STEPS)
    assert '| dino_k7 | not run |' in summary  # the docs table lists every backbone
    assert (out / 'logs.tar.gz').stat().st_size > 0

    # a second run with the same work dir reuses every finished step
    again = subprocess.run(['bash', 'tools/analysis/gpu_e2e.sh', str(tmp_path / 'out2'),
                            '--cpu-dry-run', '--work-dir', str(out / 'work'), '--only',
                            ','.join(STEPS)], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    reused = [r for r in gpu_e2e.read_progress(tmp_path / 'out2' / 'progress.jsonl')
              if r.get('reused')]
    assert [r['step'] for r in reused] == STEPS
