"""Read the backbone out of self-supervised checkpoints (DINO, MoCo v3, BYOL...)."""
import os.path as osp
import re
import zipfile
from typing import Dict, Optional, Tuple

import torch

from lkssl_mm.utils.fileio import save_atomically

#: The EMA network of each SSL algorithm: DINO ``teacher``, MoCo v3
#: ``momentum_encoder``, BYOL ``target_net``; each an mmengine EMA wrapper whose
#: ``module`` is ``Sequential(backbone, neck)``.
TEACHER_NETWORKS = ('teacher', 'momentum_encoder', 'target_net')
#: Where those keep their backbone in a state dict.
TEACHER_PREFIXES = tuple(f'{name}.module.0.' for name in TEACHER_NETWORKS)
STUDENT_PREFIX = 'backbone.'

__all__ = ['TEACHER_NETWORKS', 'TEACHER_PREFIXES', 'STUDENT_PREFIX', 'NotAnSSLCheckpoint',
           'load_state_dict_file', 'extract_backbone', 'teacher_backbone', 'weights_as_loaded',
           'compare_keys', 'save_atomically', 'convert_ssl_checkpoint', 'resolve_backbone',
           'check_backbone_checkpoint']


class NotAnSSLCheckpoint(ValueError):
    """The file is not a checkpoint of an SSL algorithm with a backbone."""


def load_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Load a checkpoint's state dict (``state_dict`` entry, or the file itself).

    Raises:
        FileNotFoundError: If there is no such file.
        NotAnSSLCheckpoint: If the file cannot be read as a torch checkpoint.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    try:
        checkpoint = torch.load(path, map_location='cpu')
    except Exception as error:  # truncated, not a zip/pickle, unsafe content...
        if not zipfile.is_zipfile(path):
            reason = 'not a PyTorch checkpoint archive: truncated, or another file format'
        else:
            reason = f'{type(error).__name__}: ' + (str(error).strip().splitlines() or [''])[0]
        raise NotAnSSLCheckpoint(f'{path}: cannot be read as a PyTorch checkpoint ({reason})'
                                 ) from error
    if not isinstance(checkpoint, dict):
        raise NotAnSSLCheckpoint(f'{path}: holds a {type(checkpoint).__name__}, not a '
                                 'checkpoint dict')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise NotAnSSLCheckpoint(f'{path}: its state dict holds non-tensor entries')
    return state_dict


def extract_backbone(state_dict: Dict[str, torch.Tensor], which: str = 'teacher',
                     source: str = '<state dict>') -> Tuple[Dict[str, torch.Tensor], str]:
    """The backbone weights of an SSL state dict, without their prefix.

    Args:
        state_dict (dict): The SSL model's state dict.
        which (str): 'teacher' (EMA network) or 'student' (the trained one).
        source (str): Name used in error messages.

    Returns:
        tuple[dict, str]: The backbone state dict and the prefix it came from.

    Raises:
        NotAnSSLCheckpoint: If no backbone of that kind is in the state dict.
    """
    if which not in ('teacher', 'student'):
        raise ValueError(f"which must be 'teacher' or 'student', got {which!r}")
    prefixes = TEACHER_PREFIXES if which == 'teacher' else (STUDENT_PREFIX, )
    for prefix in prefixes:
        weights = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
        if weights:
            return weights, prefix
    found = sorted({k.split('.')[0] for k in state_dict})[:8]
    raise NotAnSSLCheckpoint(
        f'{source}: no {which} backbone (looked for keys starting with {list(prefixes)}; '
        f'top-level names found: {found}). Is this an SSL checkpoint of DINO, MoCo v3 or BYOL?')


def teacher_backbone(model: torch.nn.Module) -> Optional[torch.nn.Module]:
    """The backbone of an SSL model's EMA network (see :data:`TEACHER_NETWORKS`), or None."""
    for name in TEACHER_NETWORKS:
        if hasattr(model, name):
            return getattr(model, name).module[0]
    return None


#: Keys a dense-task backbone may add to a pre-trained one: the norms of extra
#: outputs when ``out_indices`` grows from the last stage (LKConvNeXt's and
#: mmpretrain ConvNeXt's ``norm0``..``norm2``, mmpretrain RepLKNet's
#: ``stages.0.norm``..``stages.2.norm``).
NEW_OUTPUT_KEY = re.compile(r'^(norm\d+|stages\.\d+\.norm)\.')


def weights_as_loaded(weights: Dict[str, torch.Tensor],
                      backbone: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """``weights`` as ``backbone.load_state_dict`` would copy them.

    Runs the load hooks of ``backbone`` and its sub-modules on a copy, e.g.
    mmpretrain's ViT and Swin interpolating a position embedding (table) of
    another input size. torch runs them inside ``load_state_dict`` on its own
    copy and offers no public call that returns the result, hence this.
    """
    state = dict(weights)
    for name, module in backbone.named_modules():
        for hook in module._load_state_dict_pre_hooks.values():
            hook(state, f'{name}.' if name else '', {}, False, [], [], [])
    return state


def compare_keys(weights: Dict[str, torch.Tensor], backbone: torch.nn.Module) -> dict:
    """Missing, unexpected, resized and shape-mismatched keys of ``weights`` for ``backbone``.

    Args:
        weights (dict): Backbone weights (no prefix).
        backbone (nn.Module): The backbone they are for. Weights its load hooks
            resize (see :func:`weights_as_loaded`) are listed as ``resized``.
    """
    target = backbone.state_dict()
    loaded = weights_as_loaded(weights, backbone)
    missing = sorted(k for k in target if k not in loaded)
    return dict(
        missing=[k for k in missing if not NEW_OUTPUT_KEY.match(k)],
        new_output_norms=[k for k in missing if NEW_OUTPUT_KEY.match(k)],
        unexpected=sorted(k for k in loaded if k not in target),
        resized=sorted(f'{k}: {tuple(weights[k].shape)} -> {tuple(loaded[k].shape)}'
                       for k in weights if k in loaded and loaded[k].shape != weights[k].shape),
        mismatched=sorted(f'{k}: {tuple(loaded[k].shape)} vs {tuple(target[k].shape)}'
                          for k in loaded if k in target and loaded[k].shape != target[k].shape))


def convert_ssl_checkpoint(src: str, dst: str, which: str = 'teacher',
                           target_backbone: Optional[torch.nn.Module] = None) -> dict:
    """Write the backbone of an SSL checkpoint as a ``backbone.*`` checkpoint.

    The result loads into mmpretrain, mmdet and mmseg models with
    ``init_cfg=dict(type='Pretrained', checkpoint=dst, prefix='backbone.')``.

    Args:
        src (str): SSL checkpoint (DINO, MoCo v3, BYOL, ...).
        dst (str): Output path (written atomically; must differ from ``src``).
        which (str): 'teacher' or 'student'.
        target_backbone (nn.Module, optional): The backbone the result is for;
            if given, any missing or mismatched key is refused.

    Returns:
        dict: The conversion report (source prefix, counts, key lists).

    Raises:
        NotAnSSLCheckpoint: If ``src`` is not an SSL checkpoint.
        ValueError: If the backbone does not match ``target_backbone``, or
            ``dst`` is ``src``.
    """
    if osp.abspath(src) == osp.abspath(dst):
        raise ValueError(f'refusing to overwrite the source checkpoint {src}')
    weights, prefix = extract_backbone(load_state_dict_file(src), which, src)
    report = dict(source=src, destination=dst, which=which, prefix=prefix,
                  converted=len(weights), missing=[], new_output_norms=[], unexpected=[],
                  resized=[], mismatched=[])
    if target_backbone is not None:
        report.update(compare_keys(weights, target_backbone))
        if report['missing'] or report['mismatched']:
            raise ValueError(
                f'{src}: its {which} backbone does not match the target config '
                f'({len(report["missing"])} missing keys, e.g. {report["missing"][:3]}; '
                f'{len(report["mismatched"])} shape mismatches, e.g. '
                f'{report["mismatched"][:3]}); {dst} was not written')
    save_atomically(dict(meta=dict(converted_from=src, which=which, source_prefix=prefix),
                         state_dict={f'backbone.{k}': v for k, v in weights.items()}), dst)
    return report


def resolve_backbone(state_dict: Dict[str, torch.Tensor], which: str = 'teacher',
                     source: str = '<state dict>') -> Tuple[Dict[str, torch.Tensor], str]:
    """Backbone weights of an SSL, converted or downstream state dict.

    SSL checkpoints give their ``which`` backbone; otherwise the ``backbone.*``
    entries of a converted or downstream checkpoint are used.

    Raises:
        NotAnSSLCheckpoint: If neither is found.
    """
    try:
        return extract_backbone(state_dict, which, source)
    except NotAnSSLCheckpoint:
        if which == 'teacher' and any(k.startswith(STUDENT_PREFIX) for k in state_dict):
            return extract_backbone(state_dict, 'student', source)
        raise


def check_backbone_checkpoint(path: str, backbone: torch.nn.Module, which: str = 'teacher'
                              ) -> Tuple[Dict[str, torch.Tensor], dict, str]:
    """Load the backbone weights in ``path`` and check that they fit ``backbone``.

    Args:
        path (str): SSL, converted (``backbone.*``) or downstream checkpoint.
        backbone (nn.Module): The backbone the weights are for.
        which (str): Backbone of an SSL checkpoint, 'teacher' or 'student'.

    Returns:
        tuple: The weights (prefix removed), the key report and the prefix.

    Raises:
        NotAnSSLCheckpoint: If the file cannot be read or holds no backbone.
        ValueError: If weights are missing (beyond new output norms) or have
            other shapes.
    """
    weights, prefix = resolve_backbone(load_state_dict_file(path), which, path)
    report = compare_keys(weights, backbone)
    if report['missing'] or report['mismatched']:
        raise ValueError(
            f'{path} does not fit the backbone of the config ({type(backbone).__name__}): '
            f'{len(report["missing"])} missing weights (e.g. {report["missing"][:3]}), '
            f'{len(report["mismatched"])} shape mismatches (e.g. {report["mismatched"][:3]})')
    return weights, report, prefix
