"""mmpretrain's VisionTransformer initialised as DINO initialises its ViTs."""
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones import VisionTransformer
from mmpretrain.registry import MODELS


@MODELS.register_module()
class DINOViT(VisionTransformer):
    """:class:`VisionTransformer` with the initialisation of facebookresearch/dino.

    DINO (``vision_transformer.py:161-172``) draws the position embedding,
    the class token and every Linear weight from a truncated normal with std
    0.02, zeroes the Linear biases, sets LayerNorms to weight 1 / bias 0 and
    leaves the patch-embedding convolution at PyTorch's default. mmpretrain's
    default keeps the class token at zero, draws the MLP weights
    Xavier-uniform (``TransformerEncoderLayer.init_weights``) and the other
    Linear layers with PyTorch's default, which changes the start of a
    from-scratch SSL run. Written here because mmengine's ``init_cfg`` cannot
    express it: the encoder layers' own ``init_weights`` run after the
    backbone's ``init_cfg`` and overwrite it. Same arguments and parameter
    names as :class:`VisionTransformer`, so checkpoints load into it
    downstream. With a ``Pretrained`` ``init_cfg`` the weights are loaded
    instead, as in the parent.
    """

    def init_weights(self) -> None:
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == 'Pretrained':
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        self.patch_embed.projection.reset_parameters()
        trunc_normal_(self.pos_embed, std=.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=.02)
