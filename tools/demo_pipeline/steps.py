"""What each kind of step does (a task's ``action``), given the demo and the step.

Tool steps run the repository's command-line tools (:class:`ToolRunner`);
the small ones (saving a random initialisation, counting parameters and
FLOPs, the ERF) call the library in the demo's own process. Every action
returns a JSON-able dict, recorded in ``state.json`` and read by the report.
"""
import os
import os.path as osp
import re
import statistics
from dataclasses import replace
from typing import TYPE_CHECKING, Dict, List

from lkssl_mm.datasets import data_options, data_roots
from lkssl_mm.utils.run_logs import last_record, read_scalars

from .plan import Step

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Demo

def last_metrics(work_dir: str, key: str) -> dict:
    """The last logged record holding ``key`` (the metrics of the final evaluation)."""
    return {k: v for k, v in last_record(work_dir, key).items()
            if k not in ('time', 'data_time', 'step')}


def parse_options(options) -> dict:
    """``--cfg-options`` strings as the dict ``tools/train.py`` merges (mmengine's parser)."""
    import argparse

    from mmengine.config import DictAction
    if not options:
        return {}
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def load_config(demo: 'Demo', step: Step, **backbone_changes):
    """A step's config with its options merged (and ``model.backbone`` changed)."""
    from mmengine.config import Config
    cfg = Config.fromfile(demo.config_path(step))
    cfg.merge_from_dict(parse_options(step.options))
    cfg.model.backbone.update(backbone_changes)
    return cfg


# ----------------------------------------------------------------------------- actions
def make_data(demo: 'Demo', step: Step) -> dict:
    """Generate (or reuse) the datasets; the number of images per task and split."""
    from lkssl_mm.datasets import generate
    meta = generate(demo.data_root, size=demo.size.data, seed=0, verbose=True,
                    workers=min(8, os.cpu_count() or 1))
    return {task: info['num_images'] for task, info in meta['tasks'].items()}


def _train(demo: 'Demo', step: Step, *args: str, data: str) -> str:
    """``tools/train.py`` on the step's config for its length; resumes an interrupted run."""
    work = demo.run_dir(step)
    cmd = [demo.config_path(step), '--work-dir', work, f'--{step.task.length}', str(step.length),
           *args]
    if osp.exists(osp.join(work, 'last_checkpoint')):
        cmd.append('--resume')
    cmd += ['--cfg-options', *step.options, *data_options(data, demo.data_root)]
    demo.tools.run('tools/train.py', cmd, demo.log_path(step))
    return work


def pretrain(demo: 'Demo', step: Step) -> dict:
    """DINO pre-training; the checkpoint, throughput, loss and k-NN curves."""
    from mmengine.config import Config
    work = _train(demo, step, data=step.task.data)
    records = read_scalars(work)
    train = [r for r in records if 'loss' in r and 'time' in r]
    dumped = Config.fromfile(osp.join(work, osp.basename(demo.config_path(step))))
    batch = dumped.train_dataloader.batch_size
    # the first logged window holds the start-up (workers, first iterations)
    times = [r['time'] for r in (train[1:] or train)]
    return dict(checkpoint=osp.join(work, f'epoch_{step.length}.pth'), work_dir=work,
                batch_size=batch, images_per_second=round(batch / statistics.mean(times), 1),
                losses=[[r['step'], r['loss']] for r in train],
                knn=[[r['step'], r['knn/top1_k20']] for r in records
                     if 'knn/top1_k20' in r and 'loss' not in r],
                collapse_warnings=collapse_warnings(demo.log_path(step)))


#: The warning of :class:`lkssl_mm.engine.hooks.CollapseMonitorHook`.
_COLLAPSE = re.compile(r'Self-distillation looks collapsed at iteration (\d+): ([\w-]+)')


def collapse_warnings(log_path: str) -> List[list]:
    """``[iteration, kind]`` of each collapse warning (uniform, one-hot) in a pre-training log."""
    with open(log_path, errors='replace') as f:
        return [[int(m.group(1)), m.group(2)] for m in map(_COLLAPSE.search, f) if m]


def convert(demo: 'Demo', step: Step) -> dict:
    """The pre-trained teacher's backbone as a ``backbone.*`` checkpoint."""
    source = demo.result(f'pretrain_{step.backbone.name}')['checkpoint']
    out = demo.checkpoint(f'dino_{step.backbone.name}')
    demo.tools.run('tools/model_converters/ssl2backbone.py',
                   [source, out, '--which', 'teacher'], demo.log_path(step))
    return dict(checkpoint=out)


def random_init(demo: 'Demo', step: Step) -> dict:
    """The backbone at its random initialisation with ``step.seed``, saved."""
    import torch

    from lkssl_mm.utils.builder import build_model
    from lkssl_mm.utils.fileio import save_atomically
    torch.manual_seed(step.seed)
    backbone = build_model(load_config(demo, step), 'backbone')
    backbone.init_weights()
    out = demo.checkpoint(step.instance)
    save_atomically(dict(meta=dict(random_init=True, seed=step.seed), state_dict={
        f'backbone.{k}': v for k, v in backbone.state_dict().items()}), out)
    return dict(checkpoint=out)


def complexity(demo: 'Demo', step: Step) -> dict:
    """Parameters and FLOPs of the backbone at the pre-training crop size (64 px)."""
    from lkssl_mm.analysis.complexity import config_complexity
    info = config_complexity(demo.config_path(step), shape=(64, 64),
                             cfg_options=parse_options(step.options))
    return dict(params=info['params'], flops=info['flops'], input_shape=info['input_shape'])


def test(demo: 'Demo', step: Step) -> dict:
    """``tools/test.py`` of the step's backbone checkpoint (k-NN); the final metrics."""
    work = demo.run_dir(step)
    demo.tools.run('tools/test.py', [
        demo.config_path(step), demo.backbone_checkpoint(step), '--work-dir', work,
        '--cfg-options', *step.options, *data_options(step.task.data, demo.data_root)],
        demo.log_path(step))
    return last_metrics(work, step.task.metrics[0].key)


def erf(demo: 'Demo', step: Step) -> dict:
    """Effective receptive field (RepLKNet's method) on 16 validation images at 128 px."""
    from lkssl_mm.analysis.erf_runner import erf_of_config
    if step.backbone.erf is None:
        return dict(defined=False)
    heatmap = osp.join(demo.work_dir, 'plots', f'erf_{step.instance}.png')
    os.makedirs(osp.dirname(heatmap), exist_ok=True)
    result = erf_of_config(load_config(demo, step, **step.backbone.erf),
                           checkpoint=demo.backbone_checkpoint(step),
                           image_dir=osp.join(data_roots(demo.data_root)['cls'], 'val'),
                           num_images=16, size=128, out_index=-1, heatmap=heatmap)
    return dict(result['area_ratio'], heatmap=heatmap, feature_map=step.backbone.erf_map)


def finetune(demo: 'Demo', step: Step) -> dict:
    """Train the step's config from its backbone checkpoint with its seed; final metrics.

    Evaluates once, at the end; an iteration-based run saves a checkpoint halfway,
    so an interrupted one resumes from there.
    """
    options = [f'randomness.seed={step.seed}', f'train_cfg.val_interval={step.length}']
    if step.task.length == 'iters':
        options.append(f'default_hooks.checkpoint.interval={max(step.length // 2, 1)}')
    step = replace(step, options=(*step.options, *options))
    work = _train(demo, step, '--pretrained', demo.backbone_checkpoint(step),
                  data=step.task.data)
    return last_metrics(work, step.task.metrics[0].key)


#: Each task's ``action`` -> the function that runs a step of it.
ACTIONS: Dict[str, object] = dict(data=make_data, pretrain=pretrain, convert=convert,
                                  random_init=random_init, complexity=complexity, test=test,
                                  erf=erf, finetune=finetune)
