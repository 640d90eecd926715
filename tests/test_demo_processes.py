"""The demo's tool runner: a forked step behaves as ``python script args`` would."""
import json
import os
import sys

import pytest

from .conftest import ROOT

sys.path.insert(0, str(ROOT / 'tools'))

from demo_pipeline.processes import ToolRunner, progress_line  # noqa: E402

#: What the tool processes should see: the caller's setting, else the passive policy.
OMP_WAIT_POLICY = os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')
SCRIPT = '''
import json, os, sys
print(json.dumps(dict(argv=sys.argv[1:], cwd=os.getcwd(), main=__name__,
                      path0=sys.path[0], torch='torch' in sys.modules,
                      omp=os.environ.get('OMP_WAIT_POLICY'))))
print('12/02 10:00:00 - mmengine - INFO - Epoch(train) [1][2/4]  lr: 1e-3  loss: 0.5')
print('to stderr', file=sys.stderr)
sys.exit(int(sys.argv[1]))
'''


@pytest.fixture(scope='module', params=[False, True], ids=['fork-server', 'fresh'])
def runner(request, tmp_path_factory):
    root = tmp_path_factory.mktemp('root')
    (root / 'tool.py').write_text(SCRIPT)
    echoed = []
    return ToolRunner(str(root), fresh_processes=request.param, echo=echoed.append), echoed


def test_a_step_runs_the_script_as_the_command_line_does(runner, tmp_path):
    tools, echoed = runner
    log = tmp_path / 'logs' / 'step.log'
    tools.run('tool.py', ['0', '--flag', 'a b'], str(log))
    text = log.read_text()
    assert text.startswith('$ python tool.py 0 --flag a b\n')
    facts = json.loads(text.splitlines()[1])
    assert facts['argv'] == ['0', '--flag', 'a b'] and facts['main'] == '__main__'
    assert facts['cwd'] == tools.root and facts['path0'] == tools.root
    # forked from the server that imported the libraries, or a fresh interpreter
    assert facts['torch'] is (not tools.fresh_processes)
    # idle OpenMP threads sleep instead of spinning (processes.TOOL_ENV)
    assert facts['omp'] == OMP_WAIT_POLICY
    assert 'to stderr' in text
    assert echoed[-1] == '    Epoch(train) [1][2/4]  lr: 1e-3  loss: 0.5'


def test_a_failing_step_names_its_log_and_keeps_what_it_wrote(runner, tmp_path):
    tools, _ = runner
    log = tmp_path / 'failed.log'
    with pytest.raises(RuntimeError, match=r'tool.py failed \(exit 3\); see .*failed.log'):
        tools.run('tool.py', ['3'], str(log))
    assert 'to stderr' in log.read_text()


def test_only_mmengine_progress_lines_are_echoed():
    assert progress_line('x - mmengine - INFO - Iter(train) [20/40]  loss: 1') == \
        'Iter(train) [20/40]  loss: 1'
    assert progress_line('x - mmengine - INFO - Checkpoints will be saved to /w') is None
    assert progress_line('x - mmengine - WARNING - Epoch(train) skipped') is None


def test_the_demo_process_itself_lets_idle_threads_sleep():
    """Its own steps (random inits, sizes, the ERF) run in the demo's process."""
    import demo_pipeline  # noqa: F401  (sets it on import, before torch is imported there)
    assert os.environ['OMP_WAIT_POLICY'] == OMP_WAIT_POLICY
