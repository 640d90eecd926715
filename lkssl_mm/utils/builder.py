"""Build a config's model (or one part of it) in the config's own library scope.

mmpretrain, mmdet and mmseg each have a model registry; a config's
``default_scope`` says which one builds it. mmengine's ``Runner`` does this
itself; the tools that build a model without a runner (preflight, the checkpoint
converter, ``--pretrained``, complexity and ERF analysis) use :func:`build_model`.
It changes nothing global (the scope is switched only while building) and
turns registry errors into a :class:`ConfigError` naming the field, with a
"Did you mean" for a misspelt type.
"""
import difflib
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS


class ConfigError(ValueError):
    """A config, data path or checkpoint that cannot work, found before running."""


def _unknown_type_hint(message: str) -> str:
    """'did you mean' for an unregistered type named in a registry error message."""
    words = message.split()
    if not words:
        return ''
    name = words[0].strip('`\'"')
    known = set()
    for registry in [ROOT_MODELS] + list(ROOT_MODELS.children.values()):
        known.update(registry.module_dict)
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f' Did you mean: {", ".join(close)}?' if close else ''


def build_model(cfg: Config, part: Optional[str] = None, **overrides) -> torch.nn.Module:
    """Build ``cfg.model`` (or ``cfg.model.<part>``) in the config's default scope.

    Args:
        cfg (Config): A config with ``model`` (and usually ``default_scope``;
            mmpretrain when it has none).
        part (str, optional): Build only this sub-config, e.g. ``'backbone'``.
        **overrides: Arguments changed in a copy of what is built (``cfg`` is
            left as it is), e.g. ``gap_before_final_norm=False`` for feature maps.

    Returns:
        nn.Module: The built (not initialised) module.

    Raises:
        ConfigError: If it cannot be built (unknown type, bad argument...),
            naming the field.
    """
    field = f'model.{part}' if part else 'model'
    module_cfg = cfg.model.get(part) if part else cfg.model
    if module_cfg is None:
        raise ConfigError(f'{field}: the config has none')
    module_cfg = module_cfg.copy()
    module_cfg.update(overrides)
    scope = cfg.get('default_scope', 'mmpretrain')
    try:
        with ROOT_MODELS.switch_scope_and_registry(scope) as registry:
            return registry.build(module_cfg)
    except KeyError as error:
        text = str(error).strip('"\'')
        raise ConfigError(f'{field}: {text}{_unknown_type_hint(text)}') from error
    except (ValueError, TypeError, AssertionError) as error:
        raise ConfigError(f'{field}: {error}') from error
