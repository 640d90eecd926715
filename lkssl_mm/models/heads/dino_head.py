"""DINO loss head: centred, sharpened teacher targets for every student crop."""
import math
from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS


def teacher_temperature(epoch: int, teacher_temp: float, warmup_teacher_temp: float,
                        warmup_epochs: int) -> float:
    """DINO's teacher temperature at ``epoch``: linear warm-up, then constant.

    Equals ``np.linspace(warmup_teacher_temp, teacher_temp, warmup_epochs)[epoch]``
    during the warm-up, as in the reference implementation.
    """
    if epoch >= warmup_epochs:
        return teacher_temp
    if warmup_epochs == 1:
        return warmup_teacher_temp
    return warmup_teacher_temp + (teacher_temp - warmup_teacher_temp) * epoch / (
        warmup_epochs - 1)


@MODELS.register_module()
class DINOHead(BaseModule):
    """Cross-entropy between centred/sharpened teacher and student distributions.

    The loss averages ``-sum softmax((t - c) / T_t) * log_softmax(s / T_s)``
    over the batch and over every (teacher global view, student view) pair
    except identical views. The center ``c`` is an EMA of the teacher's batch
    mean, all-reduced over ranks; it is a buffer, so it is checkpointed.

    Args:
        out_channels (int): Number of prototypes.
        student_temp (float): Student temperature. Defaults to 0.1.
        teacher_temp (float): Teacher temperature after warm-up. Defaults to 0.04.
        warmup_teacher_temp (float): Initial teacher temperature. Defaults to 0.04.
        warmup_teacher_temp_epochs (int): Warm-up length in epochs (the epoch
            is read from mmengine's MessageHub). Defaults to 0.
        center_momentum (float): EMA momentum of the center. Defaults to 0.9.
    """

    def __init__(self, out_channels: int, student_temp: float = 0.1,
                 teacher_temp: float = 0.04, warmup_teacher_temp: float = 0.04,
                 warmup_teacher_temp_epochs: int = 0, center_momentum: float = 0.9):
        super().__init__()
        self.out_channels = out_channels
        self.student_temp = student_temp
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp = warmup_teacher_temp
        self.warmup_teacher_temp_epochs = warmup_teacher_temp_epochs
        self.center_momentum = center_momentum
        self.register_buffer('center', torch.zeros(1, out_channels))

    def current_teacher_temp(self) -> float:
        """The teacher temperature for the runner's current epoch."""
        epoch = MessageHub.get_current_instance().get_info('epoch', 0)
        return teacher_temperature(epoch, self.teacher_temp, self.warmup_teacher_temp,
                                   self.warmup_teacher_temp_epochs)

    def loss(self, student_logits: Sequence[torch.Tensor],
             teacher_logits: Sequence[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Compute the DINO loss and update the center.

        Args:
            student_logits (Sequence[Tensor]): One (B, K) tensor per student
                view; the first ``len(teacher_logits)`` are the global views.
            teacher_logits (Sequence[Tensor]): One (B, K) tensor per global view.

        Returns:
            dict: ``loss`` plus detached monitoring values (``teacher_temp``,
            ``teacher_entropy``, ``teacher_batch_entropy``, ``kl_div``).
        """
        temp = self.current_teacher_temp()
        teacher_probs = [F.softmax((t.float() - self.center) / temp, dim=-1)
                         for t in teacher_logits]
        student_logp = [F.log_softmax(s.float() / self.student_temp, dim=-1)
                        for s in student_logits]
        total, terms = 0., 0
        for t_idx, probs in enumerate(teacher_probs):
            for s_idx, logp in enumerate(student_logp):
                if s_idx == t_idx:
                    continue
                total = total + torch.sum(-probs * logp, dim=-1).mean()
                terms += 1
        losses = dict(loss=total / terms)
        losses.update(self._monitor(teacher_probs, student_logp, temp))
        self.update_center(torch.cat([t.detach().float() for t in teacher_logits]))
        return losses

    @torch.no_grad()
    def update_center(self, teacher_output: torch.Tensor) -> None:
        """EMA of the teacher output mean over all ranks.

        Args:
            teacher_output (Tensor): (B * num_global_views, K) teacher logits.
        """
        batch_center = teacher_output.sum(dim=0, keepdim=True)
        all_reduce(batch_center, op='sum')
        batch_center = batch_center / (len(teacher_output) * get_world_size())
        self.center.mul_(self.center_momentum).add_(batch_center * (1 - self.center_momentum))

    @torch.no_grad()
    def _monitor(self, teacher_probs: List[torch.Tensor], student_logp: List[torch.Tensor],
                 temp: float) -> Dict[str, torch.Tensor]:
        """Collapse indicators, normalised entropies in [0, 1] and the mean KL."""
        probs = torch.cat(teacher_probs)
        log_k = math.log(self.out_channels)
        entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean() / log_k
        mean_probs = probs.mean(0)
        batch_entropy = -(mean_probs * mean_probs.clamp_min(1e-12).log()).sum() / log_k
        student_globals = torch.cat(student_logp[:len(teacher_probs)])
        kl = (probs * (probs.clamp_min(1e-12).log() - student_globals)).sum(-1).mean()
        return dict(teacher_temp=torch.tensor(temp), teacher_entropy=entropy,
                    teacher_batch_entropy=batch_entropy, kl_div=kl)
