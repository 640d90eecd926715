"""Dependencies point one way (docs/design.md, "Layout"), read from the imports themselves:
utils <- ops <- models, datasets <- engine, evaluation <- analysis (<- tools, where the
demo lives: tools/demo_pipeline)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'lkssl_mm'
#: Each sub-package's layer: a module imports its own sub-package and lower layers only.
LAYERS = {
    'version': 0, 'utils': 0,
    'ops': 1,
    'models': 2, 'datasets': 2,
    'engine': 3, 'evaluation': 3,
    'analysis': 4,
}


def imported_sub_packages(source: str, module: str, is_package: bool = False):
    """(line, lkssl_mm sub-package) of every import in ``source``, function-local ones too.

    Args:
        source (str): Python source.
        module (str): Its dotted name (resolves relative imports).
        is_package (bool): Whether it is a package's ``__init__``.
    """
    package = module.split('.') if is_package else module.split('.')[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = base + (node.module.split('.') if node.module else [])
            names = [target] if node.module else [target + [a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split('.') for alias in node.names]
        else:
            continue
        for parts in names:
            if parts[0] == 'lkssl_mm' and len(parts) > 1:
                yield node.lineno, parts[1]


MODULES = sorted(p for p in PACKAGE.rglob('*.py') if p != PACKAGE / '__init__.py')


def sub_package(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix('.py')


def test_every_sub_package_has_a_layer():
    assert {sub_package(p) for p in MODULES} == set(LAYERS)


@pytest.mark.parametrize('path', MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    own = sub_package(path)
    module = '.'.join(path.relative_to(PACKAGE.parent).with_suffix('').parts)
    found = imported_sub_packages(path.read_text(), module, path.name == '__init__.py')
    wrong = [f'line {line}: lkssl_mm.{target} (layer {LAYERS[target]})'
             for line, target in found if target != own and LAYERS[target] >= LAYERS[own]]
    assert not wrong, (f'lkssl_mm/{path.relative_to(PACKAGE)} (layer {LAYERS[own]}) imports '
                       f'sideways or upwards: {wrong}')


def test_the_reader_finds_nested_and_relative_imports():
    source = ('import os\nfrom lkssl_mm.utils import fileio\n'
              'def f():\n    from lkssl_mm.engine import launch\n'
              'from ..analysis import erf\nfrom . import builder\n')
    found = sorted(imported_sub_packages(source, 'lkssl_mm.utils.probe'))
    assert found == [(2, 'utils'), (4, 'engine'), (5, 'analysis'), (6, 'utils')]
