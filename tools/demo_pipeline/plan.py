"""The step plan: built once from the tables, then run (and counted) as it is."""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .table import BACKBONES, TASKS, Backbone, DemoSize, Task


@dataclass(frozen=True)
class Step:
    """One step of the demo.

    Args:
        name (str): Unique name: the key in ``state.json``, the log's and run
            folder's name.
        task (Task): What it does.
        backbone (Backbone, optional): For which backbone (None for the data).
        init (str, optional): For ``'init'``-scoped tasks, which initialisation:
            ``'dino'``, ``'random'`` or ``'random_s<N>'``; for the random-init
            task, the one it saves.
        seed (int): Fine-tuning seed; for the random-init task, the init seed.
        length (int, optional): Run length in the task's ``length`` unit.
        options (tuple[str]): ``--cfg-options`` from the backbone, task, size and
            plan (data roots and seeds are added when it runs).
    """

    name: str
    task: Task
    backbone: Optional[Backbone] = None
    init: Optional[str] = None
    seed: int = 0
    length: Optional[int] = None
    options: Tuple[str, ...] = ()

    @property
    def instance(self) -> str:
        """The initialised backbone this step uses or makes, e.g. ``dino_k13``."""
        return f'{self.init}_{self.backbone.name}'


def random_init_name(seed: int) -> str:
    """Initialisation name of random seed ``seed`` (seed 0 is plain ``random``)."""
    return 'random' if seed == 0 else f'random_s{seed}'


def seeded(name: str, seed: int) -> str:
    """Step name of fine-tuning seed ``seed``; seed 0 keeps the plain name."""
    return f'{name}_s{seed}' if seed else name


def build_plan(size: DemoSize, backbones: Sequence[Backbone] = BACKBONES,
               tasks: Sequence[Task] = TASKS, seeds: Optional[int] = None,
               random_inits: int = 1,
               extra_options: Optional[Dict[str, Sequence[str]]] = None) -> List[Step]:
    """Every step of a demo, in the order they run.

    The data first; then per backbone its ``'backbone'``-scoped tasks
    (pre-training, conversion, random initialisation, size); then each
    ``'init'``-scoped task for every backbone, initialisation and fine-tuning
    seed (random inits left out for the size's ``skip_random`` tasks). A
    finished demo run again with more seeds gets the same plan plus the new
    seeds' steps.

    Args:
        size (DemoSize): Data preset, run lengths and per-task options.
        backbones (Sequence[Backbone]): Which backbones.
        tasks (Sequence[Task]): Which tasks (in table order).
        seeds (int, optional): Fine-tuning seeds (default: the size's).
        random_inits (int): Random initialisations per backbone (seeds
            0..N-1), each evaluated by every ``'init'``-scoped task.
        extra_options (dict, optional): More ``--cfg-options`` per task name.

    Returns:
        list[Step]: The plan; its length is the demo's ``total_steps``.
    """
    seeds = size.seeds if seeds is None else seeds
    if seeds < 1 or random_inits < 1:
        raise ValueError(f'seeds and random_inits must be at least 1, got {seeds} and '
                         f'{random_inits}')
    unknown = set(size.skip_random) - {task.name for task in TASKS if task.scope == 'init'}
    if unknown:
        raise ValueError(f'skip_random names {sorted(unknown)}; only tasks evaluated per '
                         'initialisation have a random-init baseline to skip')
    scopes = {task.name: task.scope for task in tasks
              if task.scope not in ('once', 'backbone', 'init')}
    if scopes:
        raise ValueError(f'unknown task scope(s) {scopes}; expected once, backbone or init')
    extra_options = extra_options or {}
    # the DINO backbone exists only where the plan converts a pre-trained teacher
    converts = any(task.action == 'convert' for task in tasks)
    inits = ['dino'] * converts + [random_init_name(s) for s in range(random_inits)]

    def step(name, task, backbone=None, **kwargs):
        options = (*(backbone.options if backbone else ()), *task.options,
                   *size.options.get(task.name, ()), *extra_options.get(task.name, ()))
        length = size.lengths[task.name] if task.length else None
        return Step(name, task, backbone, length=length, options=options, **kwargs)

    plan = [step(task.name, task) for task in tasks if task.scope == 'once']
    for backbone in backbones:
        for task in tasks:
            if task.scope != 'backbone':
                continue
            if task.action == 'random_init':
                plan += [step(f'{random_init_name(s)}_{backbone.name}', task, backbone,
                              init=random_init_name(s), seed=s) for s in range(random_inits)]
            else:
                plan.append(step(f'{task.name}_{backbone.name}', task, backbone))
    for task in tasks:
        if task.scope != 'init':
            continue
        task_inits = [init for init in inits
                      if init == 'dino' or task.name not in size.skip_random]
        for backbone in backbones:
            for init in task_inits:
                for seed in range(seeds if task.per_seed else 1):
                    plan.append(step(seeded(f'{task.name}_{init}_{backbone.name}', seed), task,
                                     backbone, init=init, seed=seed))
    return plan
