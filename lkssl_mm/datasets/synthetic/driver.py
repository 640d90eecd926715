"""The driver: which tasks to (re)write, in parallel, with meta.json as the record.

Every image is drawn from its own random generator seeded by ``(seed, task, split,
index)``, so the output only depends on the arguments (and on the Pillow/libjpeg
build), not on the number of workers. ``generate`` skips a task when ``meta.json``
already records its parameters, and writes ``meta.json`` last.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import time
from collections.abc import Iterable
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any

from .formats import FORMATS, GENERATOR_VERSION, SIZES
from .shapes import Shape


def task_params(task: str, size: str, seed: int, img_size: int | None = None) -> dict[str, Any]:
    """The parameters that fully determine the files of one task.

    Args:
        task: A key of ``FORMATS``.
        size: Preset name (``tiny``, ``small`` or ``full``).
        seed: Global seed.
        img_size: Override of the image size of a resizable format (classification).
    """
    fmt = FORMATS[task]
    side, n_train, n_val = fmt.presets[size]
    if fmt.resizable and img_size is not None:
        side = int(img_size)
    return {'version': GENERATOR_VERSION, 'size': size, 'seed': int(seed), 'img_size': side,
            'num_train': n_train, 'num_val': n_val}


def load_meta(out_dir: str | Path) -> dict[str, Any] | None:
    """``meta.json`` under ``out_dir``, or None when missing or unreadable.

    Args:
        out_dir: The folder given to ``generate``.
    """
    path = Path(out_dir) / 'meta.json'
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get('tasks'), dict) else None


def _check_args(size: str, seed: int, tasks: Iterable[str],
                img_size: int | None) -> tuple[str, ...]:
    """Validate the arguments of ``generate``; returns the tasks in canonical order.

    Args:
        size: Preset name.
        seed: Global seed.
        tasks: Requested tasks (an iterable or a comma-separated string).
        img_size: Classification image size override.
    """
    if size not in SIZES:
        raise ValueError(f'unknown size {size!r}, expected one of {SIZES}')
    if int(seed) < 0:
        raise ValueError(f'seed must be non-negative, got {seed}')
    if img_size is not None and int(img_size) < 16:
        raise ValueError(f'img_size must be at least 16, got {img_size}')
    wanted = set(tasks.split(',') if isinstance(tasks, str) else tasks)
    known = tuple(FORMATS)
    if wanted - set(known) or not wanted:
        raise ValueError(f'tasks must be a non-empty subset of {known}, got {sorted(wanted)}')
    return tuple(t for t in known if t in wanted)


def _open_pool(workers: int) -> Pool | None:
    """A process pool for ``workers > 1`` (fork where available), else None.

    Args:
        workers: Number of worker processes.
    """
    if workers <= 1:
        return None
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context('fork' if 'fork' in methods else 'spawn')
    return ctx.Pool(workers)


def _make_image(job: tuple[str, str, int, str, int, int]) -> list[Shape]:
    """Render one image, write its file(s) and return its shapes (runs in workers).

    Args:
        job: ``(task, root, seed, split, index, size)``.
    """
    task, root, seed, split, index, size = job
    fmt = FORMATS[task]
    sample = fmt.render(seed, split, index, size)
    fmt.write_image(Path(root), split, index, sample)
    return sample.shapes


def _make_split(task: str, root: Path, seed: int, size: int, split: str, total: int,
                pool: Pool | None, verbose: bool) -> list[list[Shape]]:
    """Write all images of one split, in parallel when a pool is given.

    Args:
        task: A key of ``FORMATS``.
        root: Data root of the task.
        seed: Global seed.
        size: Image side in pixels.
        split: One of ``SPLITS``.
        total: Number of images.
        pool: Worker pool, or None to work in this process.
        verbose: Print progress about every quarter.

    Returns:
        The shapes of every image, in index order.
    """
    jobs = [(task, str(root), seed, split, index, size) for index in range(total)]
    chunk = max(1, min(64, total // 64))
    results = pool.imap(_make_image, jobs, chunk) if pool else map(_make_image, jobs)
    start, step, shapes = time.perf_counter(), max(1, math.ceil(total / 4)), []
    for done, item in enumerate(results, 1):
        shapes.append(item)
        if verbose and (done % step == 0 or done == total):
            print(f'[synthetic] {task}/{split}: {done}/{total} images '
                  f'({time.perf_counter() - start:.1f}s)', flush=True)
    return shapes


def _generate_task(out: Path, task: str, params: dict[str, Any], pool: Pool | None,
                   verbose: bool) -> dict[str, Any]:
    """(Re)write the files of one task from scratch and return its meta entry.

    Args:
        out: Output folder.
        task: A key of ``FORMATS``.
        params: From ``task_params``.
        pool: Worker pool or None.
        verbose: Print progress.
    """
    fmt = FORMATS[task]
    root = out / fmt.folder
    if root.exists():
        shutil.rmtree(root)
    counts = {'train': params['num_train'], 'val': params['num_val']}
    start = time.perf_counter()
    stats: dict[str, Any] = {'num_images': {s: fmt.num_images(n) for s, n in counts.items()}}
    for split, count in counts.items():
        fmt.prepare_split(root, split)
        shapes = _make_split(task, root, params['seed'], params['img_size'], split,
                             fmt.num_images(count), pool, verbose)
        for key, value in fmt.finish_split(root, split, params['img_size'], shapes).items():
            stats.setdefault(key, {})[split] = value
    if verbose:
        print(f'[synthetic] {task} written to {root} in {time.perf_counter() - start:.1f}s',
              flush=True)
    return {'params': params, 'data_root': fmt.folder, **fmt.class_info, **stats}


def generate(out_dir: str | Path, size: str = 'tiny', seed: int = 0,
             tasks: Iterable[str] | None = None, img_size: int | None = None, force: bool = False,
             verbose: bool = True, workers: int = 1) -> dict[str, Any]:
    """Generate (or reuse) the synthetic datasets under ``out_dir``.

    A task whose entry in an existing ``meta.json`` records the same parameters is skipped
    unless ``force``. ``meta.json`` is removed before anything is written and written again
    last, so an interrupted run is redone the next time.

    Args:
        out_dir: Output folder (created if needed).
        size: Preset: ``tiny`` (tests), ``small`` (CPU demo) or ``full`` (GPU).
        seed: Global non-negative seed.
        tasks: Any of the ``FORMATS`` (``cls``, ``det``, ``seg``), or a comma-separated
            string; None for all.
        img_size: Overrides the classification image size of the preset.
        force: Regenerate even when ``meta.json`` matches.
        verbose: Print progress.
        workers: Worker processes that draw and save images (1: this process only). The
            output does not depend on it.

    Returns:
        The content of ``meta.json``.
    """
    tasks = _check_args(size, seed, tuple(FORMATS) if tasks is None else tasks, img_size)
    out = Path(out_dir)
    old = load_meta(out)
    old_tasks = old['tasks'] if old else {}
    wanted = {t: task_params(t, size, seed, img_size) for t in tasks}
    todo = [t for t in tasks if force or old_tasks.get(t, {}).get('params') != wanted[t]]
    if not todo:
        if verbose:
            print(f'[synthetic] {out} already holds {size}/seed={seed} data for '
                  f'{",".join(tasks)} (meta.json matches); skipping (use --force to redo)',
                  flush=True)
        return old
    out.mkdir(parents=True, exist_ok=True)
    (out / 'meta.json').unlink(missing_ok=True)
    kept = {t: v for t, v in old_tasks.items()
            if t not in todo and v.get('params', {}).get('version') == GENERATOR_VERSION}
    for task in tasks:
        if task not in todo and verbose:
            print(f'[synthetic] {task}: up to date, kept', flush=True)
    pool = _open_pool(min(int(workers), os.cpu_count() or 1))
    try:
        new = {task: _generate_task(out, task, wanted[task], pool, verbose) for task in todo}
    finally:
        if pool is not None:  # every job has finished (or failed) by now
            pool.terminate()
            pool.join()
    meta = {'generator': 'lkssl_mm.datasets.synthetic', 'version': GENERATOR_VERSION,
            'size': size, 'seed': int(seed),
            'tasks': {t: {**kept, **new}[t] for t in FORMATS if t in kept or t in new}}
    (out / 'meta.json').write_text(json.dumps(meta, indent=2) + '\n')
    return meta
