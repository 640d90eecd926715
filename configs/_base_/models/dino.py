# The DINO algorithm (student, EMA teacher, projection head, loss) with
# facebookresearch/dino's main_dino.py defaults, the arguments of the README's
# 100-epoch runs (ViT-S/16 "vanilla" and ResNet-50, README.md:162-166, 205-209).
# Sources: main_dino.py / vision_transformer.py of facebookresearch/dino at
# 7c446df; docs/dino.md has the full table. The child config fills in
# model.backbone and model.neck.in_channels.
#
# Teacher temperature: 0.04 constant (main_dino.py:68-76 defaults), the value
# of both published 100-epoch runs; DINO's 0.04 -> 0.07 warm-up over 30 epochs
# is the README's 300-epoch "boosted" setting (README.md:185-198), used by
# configs/dino/*-300e_in1k.py and available to any config with
# model.head.teacher_temp=0.07 model.head.warmup_teacher_temp_epochs=30.
model = dict(
    type='DINO',
    base_momentum=0.004,  # 1 - momentum_teacher 0.996 (main_dino.py:61), cosine to 1 (:250)
    num_global_crops=2,  # teacher sees images[:2] (main_dino.py:318)
    neck=dict(
        type='DINONeck',
        hidden_channels=2048,  # DINOHead hidden_dim (vision_transformer.py:258)
        bottleneck_channels=256,  # DINOHead bottleneck_dim (vision_transformer.py:258)
        out_channels=65536,  # --out_dim (main_dino.py:55)
        num_layers=3,  # DINOHead nlayers (vision_transformer.py:258)
        use_bn=False,  # --use_bn_in_head (main_dino.py:64)
        norm_last_layer=True),  # --norm_last_layer (main_dino.py:57)
    head=dict(
        type='DINOHead',
        out_channels=65536,  # --out_dim (main_dino.py:55)
        student_temp=0.1,  # DINOLoss student_temp (main_dino.py:365)
        teacher_temp=0.04,  # --teacher_temp (main_dino.py:71)
        warmup_teacher_temp=0.04,  # --warmup_teacher_temp (main_dino.py:68)
        warmup_teacher_temp_epochs=0,  # --warmup_teacher_temp_epochs (main_dino.py:74)
        center_momentum=0.9))  # DINOLoss center_momentum (main_dino.py:366)
