"""Shared fixtures: the generated data, running the tools, reading their logs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lkssl_mm.datasets.synthetic import data_options  # noqa: F401  (for the tests)
from lkssl_mm.utils.run_logs import read_scalars  # noqa: F401  (for the tests)

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # configs use paths relative to the repository root


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory) -> Path:
    """The tiny generated datasets (cls, det, seg), made once per session."""
    from lkssl_mm.datasets import generate
    out = tmp_path_factory.mktemp('synthetic')
    generate(out, size='tiny', seed=0, verbose=False)
    return out


#: The DINO demo config and the options of its short CPU run (3 epochs of 6 iterations).
DINO_DEMO = 'configs/demo/dino_lkconvnext-demo_1xb32-100e_synthetic.py'
DINO_OPTIONS = ('train_cfg.max_epochs=3', 'train_dataloader.batch_size=16',
                'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                'default_hooks.logger.interval=1', 'train_cfg.val_interval=10')


@pytest.fixture(scope='session')
def dino_demo_run(synthetic_root, tmp_path_factory) -> Path:
    """The work dir of an uninterrupted short DINO demo run (``DINO_OPTIONS``), made once.

    The reference of the kill -9 and preemption resume tests, and the run whose
    TensorBoard events tests/test_logs.py reads.
    """
    work_dir = tmp_path_factory.mktemp('dino_uninterrupted')
    run_tool('tools/train.py', DINO_DEMO, '--work-dir', str(work_dir), '--cfg-options',
             *data_options('pretrain', synthetic_root), *DINO_OPTIONS)
    return work_dir


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


def run_script(script: str, *args: str, timeout: int = 900,
               env: dict = None) -> subprocess.CompletedProcess:
    """Run a shell script of the repository, failing with its output."""
    full_env = dict(os.environ, PYTHONUNBUFFERED='1', **(env or {}))
    proc = subprocess.run(['bash', script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if proc.returncode != 0:
        pytest.fail(f'{script} exited with {proc.returncode}\n--- stdout ---\n'
                    f'{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}')
    return proc
