"""The end-to-end demo: data -> DINO pre-training -> kNN / linear -> Mask R-CNN / UperNet.

Every step runs the project's own command-line tools (``tools/train.py``,
``tools/test.py``, the converter) in a subprocess, exactly as a user would,
and records its wall time and metrics in ``<work_dir>/state.json``. A step that
finished is skipped when the demo runs again; an interrupted training step is
resumed from its last checkpoint (``--resume``).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence

import torch

from lkssl_mm.datasets import generate

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIGS = osp.join(ROOT, 'configs', 'demo')
CONFIGS = dict(
    pretrain='dino_lkconvnext-demo-k13_1xb32-10e_synthetic.py',
    knn='knn_lkconvnext-demo_synthetic.py',
    linear='linear-probe_lkconvnext-demo_synthetic.py',
    detection='mask-rcnn_lkconvnext-demo_fpn_synthetic.py',
    segmentation='upernet_lkconvnext-demo_synthetic.py',
)


@dataclass
class DemoSize:
    """Budget of one demo size.

    Args:
        data (str): Synthetic data preset.
        pretrain_epochs (int): DINO epochs per backbone.
        linear_epochs (int): Linear-probe epochs.
        det_epochs (int): Mask R-CNN epochs.
        seg_iters (int): UperNet iterations.
        kernels (tuple[int, int]): The small and the large kernel compared.
        extra (dict): More ``--cfg-options`` per step kind.
        finetune_seeds (int): Seeds of each fine-tuning run (linear probe, Mask R-CNN,
            UperNet); the report gives their mean and spread.
    """

    data: str
    pretrain_epochs: int
    linear_epochs: int
    det_epochs: int
    seg_iters: int
    kernels: tuple = (3, 13)
    extra: Dict[str, List[str]] = field(default_factory=dict)
    finetune_seeds: int = 1


#: Step kinds that train from the backbone (one run per fine-tuning seed).
FINETUNED = ('linear', 'detection', 'segmentation')


SIZES = {
    'tiny': DemoSize('tiny', pretrain_epochs=1, linear_epochs=1, det_epochs=1, seg_iters=8,
                     extra=dict(pretrain=['train_dataloader.batch_size=16'],
                                segmentation=['default_hooks.logger.interval=4'])),
    'small': DemoSize('small', pretrain_epochs=12, linear_epochs=5, det_epochs=4,
                      seg_iters=160),
    'full': DemoSize('full', pretrain_epochs=60, linear_epochs=30, det_epochs=24,
                     seg_iters=4000, extra=dict(pretrain=['train_dataloader.batch_size=64'])),
}


def schedule_options(config: str, length: int) -> List[str]:
    """``--cfg-options`` that shorten (or lengthen) a config's run to ``length``.

    mmengine resolves ``param_scheduler`` when the config is read, so setting
    ``train_cfg.max_epochs`` (or ``max_iters``) alone leaves every scheduler
    on the config's own length: a shortened run would stop before its cosine or
    poly decay reaches the end. Each scheduler that runs to the config's end,
    in the loop's unit, gets that end (and its ``T_max``) moved to ``length``;
    warm-ups keep theirs, and a scheduler that would start only after
    ``length`` is left alone (it is never reached).

    Args:
        config (str): Path of the config.
        length (int): Epochs (epoch-based loop) or iterations (iteration-based).
    """
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    by_epoch = 'max_epochs' in cfg.train_cfg
    original = cfg.train_cfg.max_epochs if by_epoch else cfg.train_cfg.max_iters
    options = [f'train_cfg.{"max_epochs" if by_epoch else "max_iters"}={length}']
    schedulers = cfg.get('param_scheduler') or []
    single = isinstance(schedulers, dict)
    for index, scheduler in enumerate([schedulers] if single else schedulers):
        begin = scheduler.get('begin', 0)
        if (scheduler.get('by_epoch', True) != by_epoch or scheduler.get('end') != original
                or length <= begin):
            continue
        key = 'param_scheduler' if single else f'param_scheduler.{index}'
        options.append(f'{key}.end={length}')
        if 'T_max' in scheduler:
            options.append(f'{key}.T_max={length - begin}')
    return options


def log(message: str) -> None:
    print(f'[demo] {message}', flush=True)


class DemoPipeline:
    """Runs (or resumes) the demo and collects what the report needs.

    Args:
        size (str): 'tiny', 'small' or 'full'.
        work_dir (str): Where everything goes.
        data_root (str): Where the generated data goes (shared between runs).
        python (str): Interpreter for the tools. Defaults to this one.
        finetune_seeds (int, optional): Overrides the size's ``finetune_seeds``.
    """

    def __init__(self, size: str, work_dir: str, data_root: str,
                 python: Optional[str] = None, finetune_seeds: Optional[int] = None):
        if size not in SIZES:
            raise ValueError(f'DEMO size must be one of {sorted(SIZES)}, got {size!r}')
        self.size_name = size
        self.size = replace(SIZES[size])
        if finetune_seeds is not None:
            if finetune_seeds < 1:
                raise ValueError(f'finetune_seeds must be at least 1, got {finetune_seeds}')
            self.size.finetune_seeds = finetune_seeds
        self.work_dir = osp.abspath(work_dir)
        self.data_root = osp.abspath(data_root)
        self.python = python or sys.executable
        os.makedirs(self.work_dir, exist_ok=True)
        self.state_path = osp.join(self.work_dir, 'state.json')
        self.state = self._load_state()

    # ------------------------------------------------------------------ state
    def _load_state(self) -> dict:
        if osp.exists(self.state_path):
            with open(self.state_path) as f:
                state = json.load(f)
            if state.get('size') == self.size_name:
                return state
            log(f'{self.state_path} belongs to size {state.get("size")!r}; starting over')
        return dict(size=self.size_name, steps={})

    def _save_state(self) -> None:
        tmp = self.state_path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(self.state, f, indent=2)
        os.replace(tmp, self.state_path)

    def step(self, name: str, func, *args) -> dict:
        """Run ``func(*args)`` once; later runs reuse its recorded result."""
        done = self.state['steps'].get(name)
        if done is not None:
            log(f'{name}: done earlier ({done["seconds"]:.0f} s), skipping')
            return done['result']
        index = len(self.state['steps']) + 1
        log(f'step {index}/{self.total_steps()}: {name}')
        start = time.time()
        result = func(*args)
        self.state['steps'][name] = dict(seconds=time.time() - start, result=result)
        self._save_state()
        log(f'{name}: finished in {time.time() - start:.0f} s')
        return result

    def total_steps(self) -> int:
        kernels = len(self.size.kernels)
        # data + per kernel: pretrain, convert, random, then for the pre-trained backbone
        # and the same one at random init: knn, erf and a linear / det / seg run per seed
        return 1 + kernels * (3 + 2 * (2 + len(FINETUNED) * self.size.finetune_seeds))

    # ------------------------------------------------------------------ tools
    def _run(self, *args: str, log_name: str) -> None:
        log_path = osp.join(self.work_dir, 'logs', f'{log_name}.log')
        os.makedirs(osp.dirname(log_path), exist_ok=True)
        cmd = [self.python, *args]
        log('$ ' + ' '.join(osp.relpath(a, ROOT) if a.startswith(ROOT) else a for a in cmd))
        with open(log_path, 'a') as log_file:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True,
                                    env=dict(os.environ, PYTHONUNBUFFERED='1'))
            for line in proc.stdout:
                log_file.write(line)
                if ' - mmengine - INFO - ' in line and ('Epoch(' in line or 'Iter(' in line):
                    print('    ' + line.split(' - mmengine - INFO - ')[-1].rstrip()[:160],
                          flush=True)
            proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f'{" ".join(args[:2])} failed (exit {proc.returncode}); '
                               f'see {log_path}')

    def _train(self, kind: str, work_dir: str, length: int, options: List[str],
               log_name: str, pretrained: Optional[str] = None) -> None:
        """Train the demo config of ``kind`` for ``length`` epochs (or iterations)."""
        config = osp.join(DEMO_CONFIGS, CONFIGS[kind])
        args = ['tools/train.py', config, '--work-dir', work_dir]
        if osp.exists(osp.join(work_dir, 'last_checkpoint')):
            args.append('--resume')
        if pretrained:
            args += ['--pretrained', pretrained]
        self._run(*args, '--cfg-options', *schedule_options(config, length), *options,
                  log_name=log_name)

    def data_options(self, task: str) -> List[str]:
        roots = dict(cls=osp.join(self.data_root, 'imagenet'),
                     det=osp.join(self.data_root, 'coco') + '/',
                     seg=osp.join(self.data_root, 'ade', 'ADEChallengeData2016'))
        loaders = ['train_dataloader', 'val_dataloader', 'test_dataloader']
        if task == 'pretrain':
            return [f'{k}.dataset.data_root={roots["cls"]}'
                    for k in ('train_dataloader', 'val_dataloader', 'val_cfg.memory_dataloader')]
        if task == 'knn':
            return [f'{k}.dataset.data_root={roots["cls"]}'
                    for k in ('test_dataloader', 'test_cfg.memory_dataloader')]
        if task == 'linear':
            return [f'{k}.dataset.data_root={roots["cls"]}' for k in loaders]
        if task == 'detection':
            ann = osp.join(roots['det'], 'annotations', 'instances_val2017.json')
            return [f'{k}.dataset.data_root={roots["det"]}' for k in loaders] + [
                f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
        return [f'{k}.dataset.data_root={roots["seg"]}' for k in loaders]

    # ------------------------------------------------------------------ steps
    def make_data(self) -> dict:
        meta = generate(self.data_root, size=self.size.data, seed=0, verbose=True,
                        workers=min(8, os.cpu_count() or 1))
        return {task: info['num_images'] for task, info in meta['tasks'].items()}

    def pretrain(self, kernel: int) -> dict:
        work = osp.join(self.work_dir, f'pretrain_k{kernel}')
        epochs = self.size.pretrain_epochs
        options = [f'model.backbone.kernel_size={kernel}', 'default_hooks.logger.interval=10',
                   *self.data_options('pretrain'), *self.size.extra.get('pretrain', [])]
        self._train('pretrain', work, epochs, options, f'pretrain_k{kernel}')
        return dict(checkpoint=osp.join(work, f'epoch_{epochs}.pth'), work_dir=work)

    def convert(self, kernel: int, checkpoint: str) -> dict:
        out = osp.join(self.work_dir, 'backbones', f'dino_k{kernel}.pth')
        self._run('tools/model_converters/ssl2backbone.py', checkpoint, out, '--which',
                  'teacher', log_name=f'convert_k{kernel}')
        return dict(checkpoint=out)

    def random_backbone(self, kernel: int, seed: int = 0) -> dict:
        """Save the demo backbone at its random initialisation with ``seed``."""
        from mmengine.config import Config

        from lkssl_mm.analysis.erf_runner import build_backbone
        from lkssl_mm.utils.ssl_checkpoint import save_atomically
        cfg = Config.fromfile(osp.join(DEMO_CONFIGS, CONFIGS['knn']))
        cfg.model.backbone.kernel_size = kernel
        torch.manual_seed(seed)
        backbone = build_backbone(cfg)
        backbone.init_weights()
        suffix = f'_s{seed}' if seed else ''
        out = osp.join(self.work_dir, 'backbones', f'random_k{kernel}{suffix}.pth')
        save_atomically(dict(meta=dict(random_init=True, seed=seed), state_dict={
            f'backbone.{k}': v for k, v in backbone.state_dict().items()}), out)
        return dict(checkpoint=out)

    def knn(self, name: str, kernel: int, checkpoint: str) -> dict:
        work = osp.join(self.work_dir, 'eval', f'knn_{name}')
        self._run('tools/test.py', osp.join(DEMO_CONFIGS, CONFIGS['knn']), checkpoint,
                  '--work-dir', work, '--cfg-options', f'model.backbone.kernel_size={kernel}',
                  *self.data_options('knn'), log_name=f'knn_{name}')
        return last_metrics(work, 'knn/top1_k20')

    def _finetune(self, kind: str, name: str, kernel: int, checkpoint: str, seed: int,
                  length: int, metric: str, extra: Sequence[str] = ()) -> dict:
        """Fine-tune ``checkpoint`` with ``seed`` for ``length``; evaluate once at the end."""
        run = seeded_name(f'{kind}_{name}', seed)
        work = osp.join(self.work_dir, 'eval' if kind == 'linear' else 'transfer', run)
        self._train(kind, work, length, [f'model.backbone.kernel_size={kernel}',
                                         f'randomness.seed={seed}',
                                         f'train_cfg.val_interval={length}', *extra,
                                         *self.data_options(kind),
                                         *self.size.extra.get(kind, [])],
                    run, pretrained=checkpoint)
        return last_metrics(work, metric)

    def linear(self, name: str, kernel: int, checkpoint: str, seed: int = 0) -> dict:
        epochs = self.size.linear_epochs
        return self._finetune('linear', name, kernel, checkpoint, seed, epochs, 'accuracy/top1')

    def detection(self, name: str, kernel: int, checkpoint: str, seed: int = 0) -> dict:
        epochs = self.size.det_epochs
        return self._finetune('detection', name, kernel, checkpoint, seed, epochs,
                              'coco/bbox_mAP')

    def segmentation(self, name: str, kernel: int, checkpoint: str, seed: int = 0) -> dict:
        iters = self.size.seg_iters
        return self._finetune('segmentation', name, kernel, checkpoint, seed, iters, 'mIoU',
                              [f'default_hooks.checkpoint.interval={max(iters // 2, 1)}'])

    def finetuned(self, kind: str, name: str, kernel: int, checkpoint: str) -> dict:
        """Run ``kind`` once per fine-tuning seed; the mean of each metric, and the runs."""
        runs = [self.step(seeded_name(f'{kind}_{name}', seed), getattr(self, kind), name,
                          kernel, checkpoint, seed)
                for seed in range(self.size.finetune_seeds)]
        return mean_of_runs(runs)

    def erf(self, name: str, kernel: int, checkpoint: str) -> dict:
        from mmengine.config import Config

        from lkssl_mm.analysis.erf_runner import erf_of_config
        cfg = Config.fromfile(osp.join(DEMO_CONFIGS, CONFIGS['knn']))
        # stage 3 (stride 16) of 128 px images: an 8x8 map, finer than the last stage's
        cfg.model.backbone.update(kernel_size=kernel, out_indices=(2, ))
        heatmap = osp.join(self.work_dir, 'plots', f'erf_{name}.png')
        os.makedirs(osp.dirname(heatmap), exist_ok=True)
        result = erf_of_config(cfg, checkpoint=checkpoint,
                               image_dir=osp.join(self.data_root, 'imagenet', 'val'),
                               num_images=16, size=128, out_index=-1, heatmap=heatmap)
        return dict(area_ratio=result['area_ratio'], heatmap=heatmap)

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        """Run every step (skipping finished ones) and return the results."""
        start = time.time()
        self.step('data', self.make_data)
        backbones = {}
        for kernel in self.size.kernels:
            trained = self.step(f'pretrain_k{kernel}', self.pretrain, kernel)
            backbones[f'dino_k{kernel}'] = (kernel, self.step(
                f'convert_k{kernel}', self.convert, kernel, trained['checkpoint'])['checkpoint'])
            backbones[f'random_k{kernel}'] = (kernel, self.step(
                f'random_k{kernel}', self.random_backbone, kernel)['checkpoint'])
        results = {name: dict(kernel=kernel) for name, (kernel, _) in backbones.items()}
        for name, (kernel, checkpoint) in backbones.items():
            for kind in ('knn', 'erf'):
                results[name][kind] = self.step(f'{kind}_{name}', getattr(self, kind), name,
                                                kernel, checkpoint)
            results[name]['linear'] = self.finetuned('linear', name, kernel, checkpoint)
        for name, (kernel, checkpoint) in backbones.items():
            for kind in ('detection', 'segmentation'):
                results[name][kind] = self.finetuned(kind, name, kernel, checkpoint)
        losses = {k: pretrain_losses(self.state['steps'][f'pretrain_k{k}']['result']['work_dir'])
                  for k in self.size.kernels}
        times = {name: round(step['seconds'], 1) for name, step in self.state['steps'].items()}
        log(f'all steps done ({time.time() - start:.0f} s this run)')
        return dict(size=self.size_name, kernels=list(self.size.kernels),
                    finetune_seeds=self.size.finetune_seeds, backbones=results,
                    pretrain_losses=losses, step_seconds=times,
                    total_seconds=round(sum(times.values()), 1),
                    device='cuda' if torch.cuda.is_available() else 'cpu')


def seeded_name(name: str, seed: int) -> str:
    """Step / folder name of a fine-tuning run; seed 0 keeps the plain name."""
    return f'{name}_s{seed}' if seed else name


def mean_of_runs(runs: List[dict]) -> dict:
    """Each numeric metric averaged over ``runs`` (one per seed); the runs under 'seeds'."""
    mean = {key: sum(run[key] for run in runs) / len(runs) for key, value in runs[0].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}
    return dict(mean, seeds=runs)


def read_records(work_dir: str) -> List[dict]:
    """Logged records of mmengine runs under ``work_dir`` (scalars and test json)."""
    import glob
    records = []
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))) + \
        sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    for path in paths:
        with open(path) as f:
            records.extend(json.loads(line) for line in f if line.strip())
    return records


def last_metrics(work_dir: str, key: str) -> dict:
    """The last logged record holding ``key`` (metrics of the final evaluation)."""
    records = [r for r in read_records(work_dir) if key in r]
    if not records:
        raise RuntimeError(f'no {key} was logged under {work_dir}')
    return {k: v for k, v in records[-1].items() if k not in ('time', 'data_time', 'step')}


def pretrain_losses(work_dir: str) -> List[List[float]]:
    """(iteration, loss) pairs of a pre-training run."""
    return [[r['step'], r['loss']] for r in read_records(work_dir)
            if 'loss' in r and 'step' in r]
