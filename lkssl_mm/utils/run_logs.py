"""Read what mmengine runs logged: the one reader for tools, the demo and tests.

A run writes its training and validation records to
``<work_dir>/<timestamp>/vis_data/scalars.json`` and ``tools/test.py`` writes its
metrics to ``<work_dir>/<timestamp>/<timestamp>.json``, one JSON object a line.
"""
import glob
import json
import os.path as osp
from typing import List


def read_scalars(work_dir: str) -> List[dict]:
    """Every record logged under ``work_dir``, run after run (a resume is a new run).

    Args:
        work_dir (str): The work dir given to ``tools/train.py`` / ``tools/test.py``.
    """
    records = []
    for run in sorted(glob.glob(osp.join(str(work_dir), '*', ''))):
        paths = glob.glob(osp.join(run, 'vis_data', 'scalars.json')) + \
            sorted(glob.glob(osp.join(run, '*.json')))
        for path in paths:
            with open(path) as f:
                records.extend(json.loads(line) for line in f if line.strip())
    return records


def last_record(work_dir: str, key: str) -> dict:
    """The last record under ``work_dir`` that holds ``key`` (e.g. a final metric).

    Raises:
        RuntimeError: If no record holds it.
    """
    records = [r for r in read_scalars(work_dir) if key in r]
    if not records:
        raise RuntimeError(f'no {key} was logged under {work_dir}')
    return records[-1]
