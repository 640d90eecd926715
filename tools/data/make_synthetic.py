"""Generate the synthetic ImageNet / COCO / ADE20K-format datasets used by tests and the demo.

Example:
    python tools/data/make_synthetic.py --out data/synthetic --size small
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType

_MODULE_NAME = 'lkssl_mm_synthetic_standalone'


def _import_synthetic() -> ModuleType:
    """Load the ``lkssl_mm/datasets/synthetic`` package.

    The package only needs numpy and Pillow, so it is loaded from its folder next to this
    tool when possible: ``import lkssl_mm`` would pull in the whole OpenMMLab stack (seconds).
    """
    folder = Path(__file__).resolve().parents[2] / 'lkssl_mm' / 'datasets' / 'synthetic'
    if not (folder / '__init__.py').is_file():
        from lkssl_mm.datasets import synthetic
        return synthetic
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, folder / '__init__.py',
                                                  submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module  # workers (fork) unpickle its functions by name
    spec.loader.exec_module(module)
    return module


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/synthetic', help='output folder')
    parser.add_argument('--size', default='small', choices=('tiny', 'small', 'full'),
                        help='size preset (tiny: tests, small: CPU demo, full: GPU)')
    parser.add_argument('--seed', type=int, default=0, help='global seed (>= 0)')
    parser.add_argument('--tasks', default='cls,det,seg',
                        help='comma-separated subset of cls,det,seg')
    parser.add_argument('--img-size', type=int, default=None,
                        help='classification image size (overrides the preset)')
    parser.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1),
                        help='worker processes (the output does not depend on it)')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if meta.json matches')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the generator.

    Args:
        argv: Arguments without the program name.
    """
    args = parse_args(argv)
    synthetic = _import_synthetic()
    tasks = [t.strip() for t in args.tasks.split(',') if t.strip()]
    start = time.perf_counter()
    try:
        meta = synthetic.generate(args.out, size=args.size, seed=args.seed, tasks=tasks,
                                  img_size=args.img_size, force=args.force,
                                  workers=args.workers)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for task, info in meta['tasks'].items():
        print(f'[synthetic] {task}: {Path(args.out) / info["data_root"]} '
              f'({info["params"]["img_size"]}px, {info["num_images"]})')
    print(f'[synthetic] done in {time.perf_counter() - start:.1f}s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
