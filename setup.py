"""Install lkssl_mm: ``pip install -e .`` (tools/setup_env.sh does it for you)."""
import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent
RUNTIME = ('mmcv', 'mmengine', 'mmpretrain', 'mmdet', 'mmsegmentation', 'ftfy',
           'regex', 'pycocotools', 'matplotlib', 'scipy', 'tensorboard')


def pinned_requirements():
    """The runtime pins (OpenMMLab and what it runs with) from requirements/pins.txt."""
    pins = []
    for line in (ROOT / 'requirements' / 'pins.txt').read_text().splitlines():
        name = re.split(r'[=<>]', line.strip(), maxsplit=1)[0]
        if name in RUNTIME:
            pins.append(line.strip())
    return pins


def read_version():
    text = (ROOT / 'lkssl_mm' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


setup(
    name='lkssl_mm',
    version=read_version(),
    description='Self-supervised large-kernel CNNs for OpenMMLab (DINO, kNN/linear, '
    'Mask R-CNN, UperNet)',
    long_description=(ROOT / 'README.md').read_text() if (ROOT / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['lkssl_mm', 'lkssl_mm.*']),
    python_requires='>=3.9',
    install_requires=['torch>=2.0'] + pinned_requirements(),
    license='Apache-2.0',
)
