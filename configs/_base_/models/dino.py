# The DINO projection head and loss (facebookresearch/dino defaults): 3-layer
# MLP 2048 -> bottleneck 256, 65536 weight-normalised prototypes, student
# temperature 0.1, teacher temperature warmed up 0.04 -> 0.07 over 30 epochs,
# center momentum 0.9, teacher momentum cosine 0.996 -> 1.
# The child config fills in model.backbone and model.neck.in_channels.
model = dict(
    type='DINO',
    base_momentum=0.004,
    num_global_crops=2,
    neck=dict(
        type='DINONeck',
        hidden_channels=2048,
        bottleneck_channels=256,
        out_channels=65536,
        num_layers=3,
        use_bn=False,
        norm_last_layer=True),
    head=dict(
        type='DINOHead',
        out_channels=65536,
        student_temp=0.1,
        teacher_temp=0.07,
        warmup_teacher_temp=0.04,
        warmup_teacher_temp_epochs=30,
        center_momentum=0.9))
