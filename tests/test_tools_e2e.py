"""End to end through the command-line tools on generated data (slow: run in CI too)."""
import glob
import os
from pathlib import Path

import pytest
import torch

from lkssl_mm.utils.run_logs import last_record as metrics_of

from .conftest import data_options, read_scalars, run_script, run_tool

pytestmark = pytest.mark.slow

DEMO = 'configs/demo/'
DINO = DEMO + 'dino_lkconvnext-demo_1xb32-100e_synthetic.py'
KNN = DEMO + 'knn_lkconvnext-demo_synthetic.py'
LINEAR = DEMO + 'linear-probe_lkconvnext-demo_synthetic.py'
DET = DEMO + 'mask-rcnn_lkconvnext-demo_fpn_synthetic.py'
SEG = DEMO + 'upernet_lkconvnext-demo_synthetic.py'
SITE = Path(torch.__file__).resolve().parents[1]


def train(config, work_dir, *options, task, root, extra=()):
    return run_tool('tools/train.py', config, '--work-dir', str(work_dir), *extra,
                    '--cfg-options', *data_options(task, root), *options)


@pytest.fixture(scope='module')
def pretrained(synthetic_root, tmp_path_factory):
    """Two epochs of DINO through tools/train.py, then the teacher backbone converted."""
    work = tmp_path_factory.mktemp('dino')
    train(DINO, work, 'train_cfg.max_epochs=2', 'default_hooks.logger.interval=1',
          task='pretrain', root=synthetic_root)
    backbone = work / 'backbone_teacher.pth'
    run_tool('tools/model_converters/ssl2backbone.py', str(work / 'epoch_2.pth'),
             str(backbone), '--config', DET)
    return work, backbone


def test_pretraining_logs_dino_statistics_and_saves_checkpoints(pretrained):
    work, _ = pretrained
    assert (work / 'epoch_1.pth').exists() and (work / 'epoch_2.pth').exists()
    records = [r for r in read_scalars(work) if 'loss' in r]
    assert len(records) == 6  # 96 images / 32 per batch x 2 epochs
    for key in ('teacher_entropy', 'teacher_batch_entropy', 'kl_div', 'teacher_temp',
                'max_param_grad_norm'):
        assert all(key in r for r in records), key
    assert all(r['teacher_temp'] == pytest.approx(0.02) for r in records)  # demo recipe
    knn = [r for r in read_scalars(work) if 'knn/top1_k20' in r]
    assert len(knn) == 2  # the k-NN monitor after each epoch


def test_knn_evaluation_through_test_py(pretrained, synthetic_root, tmp_path):
    _, backbone = pretrained
    run_tool('tools/test.py', KNN, str(backbone), '--work-dir', str(tmp_path),
             '--cfg-options', *data_options('knn', synthetic_root))
    result = metrics_of(tmp_path, 'knn/top1_k20')
    assert 0 <= result['knn/top1_k20'] <= 100 and 'knn/top1_k10' in result


def test_knn_is_the_same_on_two_processes(pretrained, synthetic_root, tmp_path):
    _, backbone = pretrained
    run_tool('tools/test.py', KNN, str(backbone), '--work-dir', str(tmp_path / 'one'),
             '--cfg-options', *data_options('knn', synthetic_root))
    proc = run_tool('-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_port=29531',
                    'tools/test.py', KNN, str(backbone), '--launcher', 'pytorch',
                    '--work-dir', str(tmp_path / 'two'),
                    '--cfg-options', *data_options('knn', synthetic_root), timeout=900)
    assert proc.returncode == 0
    one = metrics_of(tmp_path / 'one', 'knn/top1_k20')
    two = metrics_of(tmp_path / 'two', 'knn/top1_k20')
    assert one['knn/top1_k20'] == two['knn/top1_k20']
    assert one['knn/top1_k10'] == two['knn/top1_k10']


def test_linear_probe_trains_and_tests(pretrained, synthetic_root, tmp_path):
    _, backbone = pretrained
    train(LINEAR, tmp_path, 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
          task='linear', root=synthetic_root, extra=('--pretrained', str(backbone)))
    assert 0 <= metrics_of(tmp_path, 'accuracy/top1')['accuracy/top1'] <= 100
    run_tool('tools/test.py', LINEAR, str(tmp_path / 'epoch_1.pth'), '--work-dir',
             str(tmp_path / 'test'), '--cfg-options',
             *data_options('linear', synthetic_root))
    assert 'accuracy/top1' in metrics_of(tmp_path / 'test', 'accuracy/top1')


def test_mask_rcnn_trains_and_evaluates_with_coco_metric(pretrained, synthetic_root, tmp_path):
    _, backbone = pretrained
    train(DET, tmp_path, 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
          task='detection', root=synthetic_root, extra=('--pretrained', str(backbone)))
    result = metrics_of(tmp_path, 'coco/bbox_mAP')
    assert -1 <= result['coco/bbox_mAP'] <= 1 and 'coco/segm_mAP' in result
    run_tool('tools/test.py', DET, str(tmp_path / 'epoch_1.pth'), '--work-dir',
             str(tmp_path / 'test'), '--out', str(tmp_path / 'preds.pkl'),
             '--cfg-options', *data_options('detection', synthetic_root))
    assert (tmp_path / 'preds.pkl').stat().st_size > 0


def test_upernet_trains_and_evaluates_with_iou_metric(pretrained, synthetic_root, tmp_path):
    _, backbone = pretrained
    train(SEG, tmp_path, 'train_cfg.max_iters=8', 'train_cfg.val_interval=8',
          'default_hooks.logger.interval=4', task='segmentation', root=synthetic_root,
          extra=('--pretrained', str(backbone)))
    result = metrics_of(tmp_path, 'mIoU')
    assert 0 <= result['mIoU'] <= 100
    checkpoint = sorted(glob.glob(str(tmp_path / 'iter_*.pth')))[-1]
    run_tool('tools/test.py', SEG, checkpoint, '--work-dir', str(tmp_path / 'test'),
             '--cfg-options', *data_options('segmentation', synthetic_root))
    assert 'mIoU' in metrics_of(tmp_path / 'test', 'mIoU')


def test_dist_train_runs_two_processes_on_the_cpu(synthetic_root, tmp_path):
    env = dict(PORT='29533', PYTHON=os.sys.executable)
    proc = run_script('tools/dist_train.sh', DINO, '2', '--work-dir', str(tmp_path),
                           '--cfg-options', 'train_cfg.max_epochs=1',
                           'train_dataloader.batch_size=16', 'default_hooks.logger.interval=1',
                           *data_options('pretrain', synthetic_root), env=env)
    assert (tmp_path / 'epoch_1.pth').exists()
    records = [r for r in read_scalars(tmp_path) if 'loss' in r]
    assert len(records) == 3  # 96 images / (2 processes x 16)
    assert 'Distributed training: True' in proc.stdout + proc.stderr


@pytest.mark.parametrize('library, config, task, options', [
    ('mmdet', DET, 'detection', ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1']),
    ('mmseg', SEG, 'segmentation', ['train_cfg.max_iters=4', 'train_cfg.val_interval=4']),
    ('mmpretrain', DINO, 'pretrain', ['train_cfg.max_epochs=1']),
])
def test_configs_run_with_the_upstream_train_tools(synthetic_root, tmp_path, library, config,
                                                   task, options):
    tool = SITE / library / '.mim' / 'tools' / 'train.py'
    assert tool.exists(), tool
    run_tool(str(tool), config, '--work-dir', str(tmp_path), '--cfg-options',
             *data_options(task, synthetic_root), *options)
    assert glob.glob(str(tmp_path / '*.pth'))
