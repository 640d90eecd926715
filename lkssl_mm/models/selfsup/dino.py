"""DINO self-distillation with multi-crop, for CNNs (BN or LN) and Transformers."""
from itertools import groupby
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch.nn.modules.batchnorm import _BatchNorm


class DINOTeacher(CosineEMA):
    """EMA teacher with DINO's per-iteration cosine momentum, 0.996 -> 1 by default.

    Unlike :class:`CosineEMA` it never copies the student's buffers: as in the
    reference implementation the teacher's BatchNorm statistics come from its
    own forward passes on the global crops. The momentum position (``steps``)
    is a buffer, so it is saved and restored with checkpoints.

    The teacher is deterministic whatever the student's stochastic depth or
    dropout rates: the reference builds it without them (``main_dino.py:166``
    passes ``drop_path_rate`` to the student only; EsViT's Swin teacher gets
    ``drop_path_rate=0.0``) and keeps it in train mode, so its BatchNorm
    layers use batch statistics. Here the teacher is a deep copy of the
    student, so :meth:`train` puts every module except BatchNorm in eval mode:
    DropPath, Dropout and attention dropout (which mmpretrain reads from
    ``self.training``) are all off, for any backbone, while BatchNorm follows
    ``mode`` (and the backbone's own ``norm_eval``).

    Args:
        model (nn.Module): The student network (backbone + projection).
        momentum (float): ``1 - teacher momentum`` at the start (mmengine's
            convention). Defaults to 0.004 (teacher momentum 0.996).
        end_momentum (float): Same at the end of training. Defaults to 0.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.004, end_momentum: float = 0.):
        super().__init__(model, momentum=momentum, end_momentum=end_momentum)
        self.train(model.training)

    def train(self, mode: bool = True) -> 'DINOTeacher':
        """Set the mode; in train mode only the BatchNorm layers train."""
        super().train(mode)
        for module in self.module.modules():
            if not isinstance(module, _BatchNorm):
                module.training = False
        return self

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average the student's parameters into the teacher (copy at step 0)."""
        source = dict(model.named_parameters())
        for name, avg in self.avg_parameters.items():
            if self.steps == 0:
                avg.data.copy_(source[name].data)
            else:
                self.avg_func(avg.data, source[name].data.to(avg.device), self.steps)
        self.steps += 1


@MODELS.register_module()
class DINO(BaseSelfSupervisor):
    """DINO: self-distillation with no labels (Caron et al., 2021), multi-crop.

    The student (backbone + :class:`DINONeck`) sees every crop, forwarded one
    resolution group at a time; the EMA teacher sees only the global crops.
    The teacher is updated with the current student at the start of each
    iteration, i.e. after the previous optimizer step, as in the reference.

    Args:
        backbone (dict): Backbone config (LKConvNeXt, RepLKNet, ViT, Swin...).
        neck (dict): :class:`DINONeck` config.
        head (dict): :class:`DINOHead` config.
        base_momentum (float): ``1 - teacher momentum`` at the start.
            Defaults to 0.004.
        num_global_crops (int): Number of leading global views. Defaults to 2.
        pretrained (str, optional): A checkpoint of a whole DINO model (student,
            teacher, center; local path or URL), loaded by ``init_weights``, e.g.
            to start from another run's weights with a fresh optimizer and
            schedule. mmpretrain's ``BaseSelfSupervisor`` turns it into
            ``init_cfg=dict(type='Pretrained', checkpoint=pretrained)``. To
            initialise the backbone only, set ``backbone.init_cfg`` (or
            ``tools/train.py --pretrained``). Defaults to None.
        data_preprocessor (dict, optional): Defaults to SelfSupDataPreprocessor.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, base_momentum: float = 0.004,
                 num_global_crops: int = 2, pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, head=head, pretrained=pretrained,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.num_global_crops = num_global_crops
        self.teacher = DINOTeacher(nn.Sequential(self.backbone, self.neck), base_momentum)

    def student(self) -> nn.Sequential:
        """The student network as one module (shares parameters with self)."""
        return nn.Sequential(self.backbone, self.neck)

    def forward_student(self, views: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """Student logits per view, one forward per run of equal-resolution views."""
        logits = []
        for _, group in groupby(views, key=lambda v: tuple(v.shape[-2:])):
            group = list(group)
            out = self.neck(self.backbone(torch.cat(group)))
            logits.extend(out.chunk(len(group)))
        return logits

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """DINO loss of one batch of multi-crop views.

        Args:
            inputs (list[Tensor]): ``num_global_crops`` global views first,
                then the local views, each (B, C, H, W).
            data_samples (list[DataSample]): Unused.
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) <= self.num_global_crops:
            raise ValueError(f'DINO needs more than {self.num_global_crops} views per image '
                             '(MultiView transform in the pipeline)')
        self.teacher.update_parameters(self.student())
        global_views = inputs[:self.num_global_crops]
        with torch.no_grad():
            teacher_logits = self.teacher(torch.cat(global_views)).chunk(len(global_views))
        student_logits = self.forward_student(inputs)
        return self.head.loss(student_logits, teacher_logits)
