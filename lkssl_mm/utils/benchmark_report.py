"""What every benchmark script of ``tools/analysis`` prints: the machine and one JSON document."""
import json
import os
import platform
from pathlib import Path
from typing import Optional


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def emit_json(doc: dict, out: Optional[str] = None, indent: int = 2) -> dict:
    """Print ``doc`` as JSON and, with ``out``, also write it there (folders made).

    Args:
        doc (dict): The benchmark's document.
        out (str, optional): A file to write it to as well.
        indent (int): JSON indentation.

    Returns:
        dict: ``doc``.
    """
    text = json.dumps(doc, indent=indent)
    print(text)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        Path(out).write_text(text + '\n')
    return doc
