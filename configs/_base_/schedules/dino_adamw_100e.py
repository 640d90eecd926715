# The DINO reference optimisation recipe, 100 epochs (facebookresearch/dino
# main_dino.py defaults at 7c446df; line numbers below), AdamW with lr
# 5e-4 x total_batch / 256 (auto_scale_lr), 10 warm-up epochs then cosine to
# 1e-6, weight decay cosine 0.04 -> 0.4 on weights (not on biases, norms or
# layer scales), per-parameter gradient clipping at 3.0, prototype layer
# frozen during the first epoch. Both ends of every curve are tested against
# utils.cosine_scheduler (tests/test_dino.py).
max_epochs = 100  # --epochs (main_dino.py:92)
warmup_epochs = 10  # --warmup_epochs (main_dino.py:99)
optim_wrapper = dict(
    type='DINOOptimWrapper',
    # --optimizer adamw, --lr 0.0005 per 256 images, --weight_decay 0.04
    # (main_dino.py:103, :96, :82); torch's AdamW betas (main_dino.py:227)
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.04),
    clip_grad=dict(type='param_norm', max_norm=3.0),  # --clip_grad (main_dino.py:87)
    freeze_last_layer_epochs=1,  # --freeze_last_layer (main_dino.py:93)
    # biases and 1-D parameters are not regularised (utils.py:632-643)
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    # linear warm-up from ~0 (utils.py:191 starts at 0; 1e-4 here, tested)
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    # cosine to --min_lr 1e-6 (main_dino.py:101, :238-243)
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
    # --weight_decay 0.04 -> --weight_decay_end 0.4, cosine (main_dino.py:84, :244-248)
    dict(type='CosineAnnealingParamScheduler', param_name='weight_decay', eta_min_ratio=10.0,
         T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
# linear scaling rule lr * batch / 256 (main_dino.py:239)
auto_scale_lr = dict(base_batch_size=256, enable=True)
