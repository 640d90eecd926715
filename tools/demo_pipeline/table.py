"""The demo's tables: what it pre-trains, what it evaluates, for how long, what it compares.

Everything the demo runs and everything its report shows is read from these
tables: :func:`~demo_pipeline.plan.build_plan` turns them into the list of steps
(``total_steps`` is that list's length), the step actions
(:mod:`demo_pipeline.steps`) read a step's task and backbone rows, and the report
(:mod:`demo_pipeline.report`) reads the metrics and comparisons. Adding a
backbone is one :data:`BACKBONES` row (plus its configs under ``configs/demo/``,
named by ``arch``); adding an evaluation is one :data:`TASKS` row with an
existing action; adding a comparison is one :data:`COMPARISONS` row.
"""
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Metric:
    """One number a task reports.

    Args:
        key (str): Where it is found: the key mmengine logs (``coco/bbox_mAP``) or
            the key of an in-process step's result (``t50``, ``params``).
        label (str): Column header in the report.
        scale (float): Factor to the unit shown (100 for COCO's fractions).
        digits (int): Decimals shown.
        compare (bool): Whether comparisons use it. A property of the network
            that is not a score (the ERF, the size) is shown, never "won".
    """

    key: str
    label: str
    scale: float = 1.0
    digits: int = 2
    compare: bool = True


@dataclass(frozen=True)
class Task:
    """One kind of step.

    Args:
        name (str): Step-name prefix and key of the task's results.
        action (str): How it runs, a key of :data:`demo_pipeline.steps.ACTIONS`.
        scope (str): ``'once'`` (the data), ``'backbone'`` (once per backbone:
            pre-training, conversion, random init, size) or ``'init'`` (for each
            backbone at each initialisation: DINO and random).
        config (str, optional): Config under ``configs/demo/``; ``{arch}`` is
            replaced by the backbone's ``arch``.
        data (str, optional): Which dataloaders to point at the generated data
            (a kind of :func:`lkssl_mm.datasets.data_options`).
        length (str, optional): ``'epochs'`` or ``'iters'``: the
            ``tools/train.py`` option (``--epochs`` / ``--iters``) that sets the
            run length from the size's ``lengths`` (every schedule follows).
        metrics (tuple[Metric]): What the report shows of it.
        per_seed (bool): One run per fine-tuning seed (mean and range reported).
        options (tuple[str]): Extra ``--cfg-options``.
    """

    name: str
    action: str
    scope: str = 'init'
    config: Optional[str] = None
    data: Optional[str] = None
    length: Optional[str] = None
    metrics: Tuple[Metric, ...] = ()
    per_seed: bool = False
    options: Tuple[str, ...] = ()

    def config_of(self, backbone: 'Backbone') -> str:
        """The config file name of this task for ``backbone``."""
        if self.config is None:
            raise ValueError(f'task {self.name!r} has no config')
        return self.config.format(arch=backbone.arch)


@dataclass(frozen=True)
class Backbone:
    """One pre-trained backbone.

    Args:
        name (str): Short name used in step names and report keys (``k13``).
        label (str): Name in the report.
        family (str): ``'CNN'`` or ``'Transformer'``.
        arch (str): Config-name part: ``configs/demo/<task>_<arch>_...py`` and
            ``configs/_base_/models/<arch>.py`` describe it.
        options (tuple[str]): ``--cfg-options`` for every config of it (e.g. the
            kernel size of the shared LKConvNeXt configs).
        erf (dict): ``model.backbone`` changes that make it return the feature
            map whose effective receptive field is measured; None where no
            spatial map exists (the ERF is then not defined and not shown).
        erf_map (str): Which map that is, for the report.
        kernel (int, optional): Depthwise kernel size of a CNN.
    """

    name: str
    label: str
    family: str
    arch: str
    options: Tuple[str, ...] = ()
    erf: Optional[dict] = field(default=None, hash=False, compare=False)
    erf_map: str = ''
    kernel: Optional[int] = None


@dataclass(frozen=True)
class Comparison:
    """Two DINO-pre-trained backbones compared metric by metric.

    Args:
        first (str): Backbone name; the sentence says whether it was better.
        second (str): The other backbone.
        question (str): What the comparison asks, for the report.
    """

    first: str
    second: str
    question: str


@dataclass(frozen=True)
class DemoSize:
    """Data and budget of one demo size.

    Args:
        data (str): Preset of ``lkssl_mm.datasets.generate``.
        lengths (dict): Run length of each task that has a ``length`` field, in
            that field's unit.
        seeds (int): Fine-tuning seeds of each ``per_seed`` task.
        options (dict): More ``--cfg-options`` per task name.
        skip_random (tuple[str]): ``'init'``-scoped tasks run from the DINO
            backbones only, without their random-init baseline, to fit the
            size's time budget (the report names them).
    """

    data: str
    lengths: Dict[str, int]
    seeds: int = 1
    options: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    skip_random: Tuple[str, ...] = ()


def cnn_backbone(kernel: int) -> Backbone:
    """The demo LKConvNeXt with ``kernel`` x ``kernel`` depthwise kernels."""
    return Backbone(f'k{kernel}', f'LKConvNeXt {kernel}x{kernel}', 'CNN', 'lkconvnext-demo',
                    options=(f'model.backbone.kernel_size={kernel}', ),
                    erf=dict(out_indices=(2, )), erf_map='stage 3 (stride 16)', kernel=kernel)


#: The backbones, in report order. Sizes are matched to the demo LKConvNeXt (about
#: 1.2-1.3 M parameters, 15-22 MFLOPs at 64x64; the report gives the measured counts).
BACKBONES: Tuple[Backbone, ...] = (
    cnn_backbone(3),
    cnn_backbone(13),
    Backbone('vit', 'ViT p16', 'Transformer', 'vit-demo-p16',
             erf=dict(out_type='featmap', out_indices=(5, )),
             erf_map='last layer (stride 16)'),
    Backbone('swin', 'Swin', 'Transformer', 'swin-demo',
             erf=dict(out_indices=(2, )), erf_map='stage 3 (stride 16)'),
)

#: The steps' kinds, in plan order within each scope.
TASKS: Tuple[Task, ...] = (
    Task('data', 'data', scope='once'),
    Task('pretrain', 'pretrain', scope='backbone',
         config='dino_{arch}_1xb32-100e_synthetic.py', data='pretrain', length='epochs'),
    Task('convert', 'convert', scope='backbone'),
    Task('random', 'random_init', scope='backbone', config='knn_{arch}_synthetic.py'),
    Task('complexity', 'complexity', scope='backbone', config='knn_{arch}_synthetic.py',
         metrics=(Metric('params', 'params (M)', 1e-6, compare=False),
                  Metric('flops', 'GFLOPs (64 px)', 1e-9, digits=4, compare=False))),
    Task('knn', 'test', config='knn_{arch}_synthetic.py', data='knn',
         metrics=(Metric('knn/top1_k20', 'k-NN %'), )),
    Task('erf', 'erf', config='knn_{arch}_synthetic.py',
         metrics=(Metric('t50', 'ERF area 50 %', digits=4, compare=False), )),
    Task('linear', 'finetune', config='linear-probe_{arch}_synthetic.py', data='linear',
         length='epochs', per_seed=True, metrics=(Metric('accuracy/top1', 'linear %'), )),
    Task('detection', 'finetune', config='mask-rcnn_{arch}_fpn_synthetic.py',
         data='detection', length='epochs', per_seed=True,
         metrics=(Metric('coco/bbox_mAP', 'box AP', 100.0),
                  Metric('coco/segm_mAP', 'mask AP', 100.0))),
    Task('segmentation', 'finetune', config='upernet_{arch}_synthetic.py',
         data='segmentation', length='iters', per_seed=True,
         metrics=(Metric('mIoU', 'mIoU %'), )),
)

#: Pre-trained backbones compared with each other (each backbone is also compared with
#: its own random initialisation).
COMPARISONS: Tuple[Comparison, ...] = (
    Comparison('k13', 'k3', 'kernel size'),
    Comparison('k13', 'vit', 'CNN vs Transformer'),
    Comparison('k13', 'swin', 'CNN vs Transformer'),
    Comparison('k3', 'vit', 'CNN vs Transformer'),
    Comparison('k3', 'swin', 'CNN vs Transformer'),
)

SIZES: Dict[str, DemoSize] = {
    # the test suite's: every backbone and task, a few iterations each
    'tiny': DemoSize('tiny', lengths=dict(pretrain=1, linear=1, detection=1, segmentation=4),
                     options=dict(pretrain=('train_dataloader.batch_size=16', ),
                                  segmentation=('default_hooks.logger.interval=2', ))),
    # the CPU default: at most 15 minutes on 2 cores (docs/demo.md: the budget, how it was
    # chosen from per-step costs before any result, and how to measure it). Mask R-CNN's
    # one epoch ends at 0-1 AP for every backbone and init, so its random-init runs (about
    # 2 of the 15 minutes) are the baselines this budget leaves out.
    'small': DemoSize('small', lengths=dict(pretrain=4, linear=4, detection=1,
                                            segmentation=80),
                      skip_random=('detection', )),
    # a GPU machine's
    'full': DemoSize('full', lengths=dict(pretrain=60, linear=30, detection=24,
                                          segmentation=4000),
                     options=dict(pretrain=('train_dataloader.batch_size=64', ))),
}


def by_name(rows, name: str, what: str):
    """The row of ``rows`` called ``name``; a ValueError naming the known ones otherwise."""
    for row in rows:
        if row.name == name:
            return row
    raise ValueError(f'unknown {what} {name!r}; expected one of {[r.name for r in rows]}')


def with_length(size: DemoSize, **lengths: int) -> DemoSize:
    """``size`` with some tasks' run lengths changed."""
    return replace(size, lengths=dict(size.lengths, **lengths))
