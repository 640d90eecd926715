"""Shared fixtures: the generated data, running the tools, reading their logs."""
import glob
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # configs use paths relative to the repository root


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> Path:
    """The tiny generated datasets (cls, det, seg), made once per session."""
    from lkssl_mm.datasets import generate
    out = tmp_path_factory.mktemp('synthetic')
    generate(out, size='tiny', seed=0, verbose=False)
    return out


def run_tool(*args: str, timeout: int = 600, check: bool = True,
             env: dict = None) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repository root, failing with its output."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        pytest.fail(f'{" ".join(args)} exited with {proc.returncode}\n'
                    f'--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc


def read_scalars(work_dir: Path) -> List[dict]:
    """Every record of the runs' ``vis_data/scalars.json`` under ``work_dir``, in order."""
    records = []
    for path in sorted(glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json'))):
        with open(path) as f:
            records.extend(json.loads(line) for line in f if line.strip())
    return records
