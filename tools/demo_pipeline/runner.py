"""Runs a demo plan, resumable, and gathers its results for the report."""
import json
import os
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional, Sequence

from lkssl_mm.utils.fileio import write_atomically

from .plan import Step, build_plan
from .processes import ToolRunner, log
from .steps import ACTIONS
from .table import BACKBONES, SIZES, TASKS, Backbone, Task, with_length

#: The repository root: configs/ and tools/ are read from it (the demo needs a checkout).
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIGS = osp.join(ROOT, 'configs', 'demo')
#: Bumped when the steps' meaning changes; a state file of another version is refused.
STATE_VERSION = 2


class OtherSettings(ValueError):
    """A work dir holds steps that ran with other settings than the ones asked for."""


class Demo:
    """The demo of one size in one work dir: plans, runs (skipping finished steps), gathers.

    Finished steps are recorded in ``<work_dir>/state.json`` (written atomically)
    with the settings they ran with, and skipped when the demo runs again; an
    interrupted training step resumes from its last checkpoint. A work dir whose
    steps ran with other settings (size, data, run length, options) is refused,
    naming them, rather than mixed with new results.

    Args:
        size (str): 'tiny', 'small' or 'full' (:data:`~demo_pipeline.table.SIZES`).
        work_dir (str): Where everything goes.
        data_root (str): Where the generated data goes (shared between runs).
        seeds (int, optional): Fine-tuning seeds (default: the size's).
        fresh_processes (bool): Start a new interpreter for every tool run instead
            of forking one that imported the libraries (:mod:`.processes`).
    """

    def __init__(self, size: str, work_dir: str, data_root: str, seeds: Optional[int] = None,
                 fresh_processes: bool = False):
        if size not in SIZES:
            raise ValueError(f'demo size must be one of {sorted(SIZES)}, got {size!r}')
        if seeds is not None and seeds < 1:
            raise ValueError(f'seeds must be at least 1, got {seeds}')
        self.size_name = size
        self.size = SIZES[size]
        self.seeds = self.size.seeds if seeds is None else seeds
        self.work_dir = osp.abspath(work_dir)
        self.data_root = osp.abspath(data_root)
        self.tools = ToolRunner(ROOT, fresh_processes=fresh_processes)
        os.makedirs(self.work_dir, exist_ok=True)
        self.state_path = osp.join(self.work_dir, 'state.json')
        self.state = self._load_state()

    # ------------------------------------------------------------------ plan
    def plan(self, backbones: Optional[Sequence[Backbone]] = None,
             tasks: Optional[Sequence[Task]] = None, random_inits: int = 1,
             lengths: Optional[Dict[str, int]] = None,
             extra_options: Optional[Dict[str, Sequence[str]]] = None) -> List[Step]:
        """The steps of this demo (all backbones and tasks unless given).

        Args:
            backbones (Sequence[Backbone], optional): Default: every backbone.
            tasks (Sequence[Task], optional): Default: every task.
            random_inits (int): Random initialisations per backbone.
            lengths (dict, optional): Run lengths that replace the size's.
            extra_options (dict, optional): More ``--cfg-options`` per task name.
        """
        size = self.size
        if lengths:
            unknown = set(lengths) - set(size.lengths)
            if unknown:
                raise ValueError(f'no run length to change for {sorted(unknown)}; '
                                 f'tasks with one: {sorted(size.lengths)}')
            size = with_length(size, **lengths)
        return build_plan(size, backbones or BACKBONES, tasks or TASKS, self.seeds,
                          random_inits, extra_options)

    # ------------------------------------------------------------------ state
    def _load_state(self) -> dict:
        fresh = dict(version=STATE_VERSION, size=self.size_name, data_root=self.data_root,
                     steps={})
        if not osp.exists(self.state_path):
            return fresh
        with open(self.state_path) as f:
            state = json.load(f)
        differ = {k: (state.get(k), v) for k, v in fresh.items()
                  if k != 'steps' and state.get(k) != v}
        if differ:
            raise OtherSettings(
                f'{self.state_path} records a demo with other settings ('
                + ', '.join(f'{k} {old!r}, now {new!r}' for k, (old, new) in differ.items())
                + '); use another --work-dir, or delete this one to start over')
        return state

    def _save_state(self) -> None:
        write_atomically(json.dumps(self.state, indent=2).encode(), self.state_path)

    def result(self, name: str) -> dict:
        """The recorded result of finished step ``name``."""
        if name not in self.state['steps']:
            raise RuntimeError(f'step {name!r} has not run (it comes earlier in the plan)')
        return self.state['steps'][name]['result']

    # ------------------------------------------------------------------ paths
    def config_path(self, step: Step) -> str:
        return osp.join(DEMO_CONFIGS, step.task.config_of(step.backbone))

    def run_dir(self, step: Step) -> str:
        return osp.join(self.work_dir, 'runs', step.name)

    def log_path(self, step: Step) -> str:
        return osp.join(self.work_dir, 'logs', f'{step.name}.log')

    def checkpoint(self, instance: str) -> str:
        """Backbone checkpoint of an initialised backbone (``dino_k13``, ``random_vit``)."""
        return osp.join(self.work_dir, 'backbones', f'{instance}.pth')

    def backbone_checkpoint(self, step: Step) -> str:
        """The checkpoint an ``'init'``-scoped step evaluates (made by an earlier step)."""
        path = self.checkpoint(step.instance)
        if not osp.isfile(path):
            raise RuntimeError(f'{step.name}: {path} is missing (made by an earlier step)')
        return path

    # ------------------------------------------------------------------ run
    def run(self, plan: Optional[List[Step]] = None) -> dict:
        """Run every step of ``plan`` (default: :meth:`plan`), skipping finished ones.

        Returns:
            dict: The results (:meth:`gather`).
        """
        plan = self.plan() if plan is None else plan
        names = [step.name for step in plan]
        if len(set(names)) != len(names):
            raise ValueError(f'step names repeat in the plan: {names}')
        changed = []
        for step in plan:
            done = self.state['steps'].get(step.name)
            old, new = (done or {}).get('settings'), settings(step)
            if done is not None and old != new:
                changed.append(f'{step.name} (' + ', '.join(
                    f'{key} {old.get(key) if old else None!r}, now {new[key]!r}'
                    for key in new if not old or old.get(key) != new[key]) + ')')
        if changed:
            raise OtherSettings(f'steps in {self.work_dir} ran with other settings: '
                             + '; '.join(changed) + '. Use another --work-dir, or delete '
                             'this one to start over')
        start = time.time()
        for index, step in enumerate(plan, 1):
            done = self.state['steps'].get(step.name)
            if done is not None:
                log(f'step {index}/{len(plan)}: {step.name}: done earlier '
                    f'({done["seconds"]:.0f} s), skipping')
                continue
            log(f'step {index}/{len(plan)}: {step.name}')
            began = time.time()
            result = ACTIONS[step.task.action](self, step)
            self.state['steps'][step.name] = dict(
                seconds=round(time.time() - began, 1), settings=settings(step), result=result)
            self._save_state()
            log(f'{step.name}: finished in {time.time() - began:.0f} s')
        log(f'all {len(plan)} steps done ({time.time() - start:.0f} s this run)')
        return self.gather(plan)

    def gather(self, plan: List[Step]) -> dict:
        """The results of a finished plan, by backbone, initialisation and task.

        Per-seed tasks hold the mean of every numeric metric over the seeds and
        each seed's result under ``seeds``.
        """
        import torch
        steps = self.state['steps']
        backbones, per_seed = {}, set()
        for step in plan:
            if step.backbone is None:
                continue
            entry = backbones.setdefault(step.backbone.name, dict(
                label=step.backbone.label, family=step.backbone.family,
                arch=step.backbone.arch, kernel=step.backbone.kernel,
                erf_map=step.backbone.erf_map, inits={}))
            result = steps[step.name]['result']
            if step.task.scope == 'backbone':
                if step.task.action != 'random_init':
                    entry[step.task.name] = result
                continue
            if step.task.per_seed:
                per_seed.add(step.task.name)
            entry['inits'].setdefault(step.init, {}).setdefault(step.task.name, []).append(result)
        for entry in backbones.values():
            for tasks in entry['inits'].values():
                for name, runs in tasks.items():
                    tasks[name] = mean_of_runs(runs) if name in per_seed else runs[0]
        seconds = {step.name: steps[step.name]['seconds'] for step in plan}
        return dict(size=self.size_name, data=steps.get('data', {}).get('result'),
                    seeds=self.seeds, backbones=backbones, random_skipped=random_skipped(plan),
                    lengths={s.task.name: s.length for s in plan if s.length is not None},
                    step_seconds=seconds, total_seconds=round(sum(seconds.values()), 1),
                    machine=dict(device='cuda' if torch.cuda.is_available() else 'cpu',
                                 cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads()),
                    plan=[step.name for step in plan])


def settings(step: Step) -> dict:
    """What a step's result depends on besides the code: recorded, and compared on reruns."""
    return dict(config=step.task.config_of(step.backbone) if step.task.config else None,
                length=step.length, seed=step.seed, options=list(step.options))


def random_skipped(plan: List[Step]) -> List[str]:
    """Tasks of ``plan`` run from the DINO backbones but not from random initialisation."""
    inits = {(step.task.name, step.init == 'dino') for step in plan
             if step.task.scope == 'init'}
    return [task.name for task in TASKS
            if (task.name, True) in inits and (task.name, False) not in inits]


def mean_of_runs(runs: List[dict]) -> dict:
    """Each numeric metric averaged over ``runs`` (one per seed); the runs under 'seeds'."""
    mean = {key: statistics.mean(run[key] for run in runs) for key, value in runs[0].items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}
    return dict(mean, seeds=runs)
