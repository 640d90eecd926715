"""Parameter and FLOP counts of config-built models (mmengine's analysis)."""
from typing import Optional, Tuple

from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config

from lkssl_mm.utils.builder import build_model


def config_complexity(config: str, shape: Tuple[int, int] = (224, 224),
                      cfg_options: Optional[dict] = None) -> dict:
    """Params and FLOPs of a config's model.

    Args:
        config (str): Config path.
        shape (tuple[int, int]): Input height and width.
        cfg_options (dict, optional): Overrides, as ``--cfg-options`` gives them.

    Returns:
        dict: ``config``, ``input_shape``, ``measured`` ('model' or
        'backbone'), ``params``, ``flops`` (multiply-adds), their readable
        forms, and ``model_params`` (whole model).
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = build_model(cfg).eval()
    is_classifier = type(model).__name__ == 'ImageClassifier'
    target = model if is_classifier else model.backbone
    info = get_model_complexity_info(target, input_shape=(3, *shape), show_table=False,
                                     show_arch=False)
    return dict(config=config, input_shape=[3, *shape],
                measured='model' if is_classifier else 'backbone',
                params=int(info['params']), flops=int(info['flops']),
                params_str=info['params_str'], flops_str=info['flops_str'],
                model_params=sum(p.numel() for p in model.parameters()))
