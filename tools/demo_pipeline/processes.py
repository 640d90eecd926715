"""Running the repository's tools for the demo: one process per step, libraries imported once.

Each step runs a command-line tool (``tools/train.py``, ``tools/test.py``, the
converter) as a user would, in a process of its own, with its output in a log
file and mmengine's progress lines echoed. Starting a fresh interpreter costs
about 5 s a step on 2 CPU cores (importing torch, mmengine, mmpretrain, mmdet
and mmseg), which over the demo's ~40 steps is several minutes. So by default
the steps are forked from a server process that imported those libraries once
(Python's ``multiprocessing`` *forkserver*; the server never computes, so no
thread pool or device state is inherited); the child then runs the tool's
script with ``runpy`` under the same ``sys.argv``, working directory and
output redirection as ``python script args``. ``fresh_processes=True``
starts ``python script args`` instead. The standard library and mmengine have
no such runner, hence this module.

Every tool process runs with ``OMP_WAIT_POLICY=PASSIVE`` unless the caller set
it: OpenMP threads that wait for work sleep instead of spinning. With the
default policy, on 2 cores shared with any other runnable process (the data
loader's workers, a second job), a spinning thread holds a core while its
partner, which has the work, waits for one; PyTorch's CPU ``im2col`` (Swin's
patch merging through ``nn.Unfold``) opens one parallel region per image, so a
batch of 64 cost about 0.5 s per call instead of about 5 ms, and the demo
Swin's linear probe ran at 4 s an iteration instead of 0.25 s (docs/demo.md,
"Threads"). Results are unchanged: only idle threads behave differently.
"""
import multiprocessing
import os
import os.path as osp
import runpy
import subprocess
import sys
import time
from typing import Callable, Optional, Sequence

#: What the fork server imports before forking (see :mod:`demo_pipeline.preload`).
PRELOAD = 'demo_pipeline.preload'
#: Environment of every tool process, where the caller has not set the variable
#: (read by libgomp when torch is imported; see the module docstring).
TOOL_ENV = dict(OMP_WAIT_POLICY='PASSIVE')


def tool_environment() -> dict:
    """This process's environment with :data:`TOOL_ENV` filled in where unset."""
    return {**TOOL_ENV, **os.environ}


def log(message: str) -> None:
    """Print a demo message (flushed, prefixed)."""
    print(f'[demo] {message}', flush=True)


def progress_line(line: str) -> Optional[str]:
    """The part of an mmengine log line worth echoing (iterations, ETA, metrics), or None."""
    marker = ' - mmengine - INFO - '
    if marker in line and ('Epoch(' in line or 'Iter(' in line):
        return line.split(marker)[-1].rstrip()[:160]
    return None


def run_script(script: str, args: Sequence[str], log_path: str, cwd: str) -> None:
    """In a forked child: run ``script`` as ``python script args`` would, output to the log.

    Args:
        script (str): Path of the tool, relative to ``cwd`` or absolute.
        args (Sequence[str]): Its command-line arguments.
        log_path (str): File that receives stdout and stderr (appended).
        cwd (str): Working directory (the repository root).
    """
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    os.chdir(cwd)
    script = osp.abspath(script)
    sys.argv = [script, *args]
    sys.path.insert(0, osp.dirname(script))  # as the interpreter does for a script
    runpy.run_path(script, run_name='__main__')


class ToolRunner:
    """Runs tools of the repository at ``root``, one process per run.

    Args:
        root (str): The repository root (working directory of every tool).
        fresh_processes (bool): Start ``python script`` for every run instead
            of forking the pre-imported server. Defaults to False.
        python (str, optional): Interpreter for fresh processes (default: this one).
        echo (Callable[[str], None]): Receives the progress lines to show.
    """

    def __init__(self, root: str, fresh_processes: bool = False,
                 python: Optional[str] = None, echo: Callable[[str], None] = print):
        self.root = root
        self.fresh_processes = fresh_processes
        self.python = python or sys.executable
        self.echo = echo
        self._context = None

    def _fork_context(self):
        if self._context is None:
            # the server must not initialise CUDA before forking (children may use it):
            # NVML answers torch.cuda.is_available() without a CUDA context
            os.environ.setdefault('PYTORCH_NVML_BASED_CUDA_CHECK', '1')
            # Python < 3.12 starts the server with the default sys.path (and silently skips
            # a preload it cannot import): make this package importable through the env
            tools = osp.dirname(osp.dirname(osp.abspath(__file__)))
            paths = os.environ.get('PYTHONPATH', '').split(os.pathsep)
            if tools not in paths:
                os.environ['PYTHONPATH'] = os.pathsep.join([tools, *filter(None, paths)])
            # the server (and every child it forks) inherits the environment it starts with
            os.environ.update(tool_environment())
            self._context = multiprocessing.get_context('forkserver')
            self._context.set_forkserver_preload([PRELOAD])
        return self._context

    def run(self, script: str, args: Sequence[str], log_path: str) -> None:
        """Run ``python script args`` from the root; its output goes to ``log_path``.

        Raises:
            RuntimeError: If the tool fails (naming its log).
        """
        os.makedirs(osp.dirname(log_path), exist_ok=True)
        shown = [script, *args]
        log('$ python ' + ' '.join(osp.relpath(a, self.root) if a.startswith(self.root + os.sep)
                                   else a for a in shown))
        with open(log_path, 'a') as f:
            f.write('$ python ' + ' '.join(shown) + '\n')
            start = f.tell()
        if self.fresh_processes:
            with open(log_path, 'a') as out:
                proc = subprocess.Popen([self.python, script, *args], cwd=self.root, stdout=out,
                                        stderr=subprocess.STDOUT,
                                        env=dict(tool_environment(), PYTHONUNBUFFERED='1'))
            finished, exit_code = (lambda: proc.poll() is not None), (lambda: proc.returncode)
        else:
            proc = self._fork_context().Process(target=run_script,
                                                args=(script, list(args), log_path, self.root))
            proc.start()
            finished, exit_code = (lambda: not proc.is_alive()), (lambda: proc.exitcode)
        try:
            self._follow(log_path, start, finished)
        finally:
            if self.fresh_processes:
                proc.wait()
            else:
                proc.join()
        if exit_code() != 0:
            raise RuntimeError(f'{script} failed (exit {exit_code()}); see {log_path}')

    def _follow(self, log_path: str, start: int, finished: Callable[[], bool]) -> None:
        """Echo the progress lines written to ``log_path`` after ``start`` until it ends."""
        with open(log_path) as f:
            f.seek(start)
            pending = ''
            while True:
                done = finished()  # read after checking, so nothing written is missed
                chunk = f.read()
                pending += chunk
                *lines, pending = pending.split('\n')
                for line in lines:
                    shown = progress_line(line)
                    if shown:
                        self.echo('    ' + shown)
                if done:
                    return
                if not chunk:
                    time.sleep(0.2)
