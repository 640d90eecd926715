# UperNet on ADE20K, 160k iterations at 512x512, 8 GPUs x 2 images: mmseg's ConvNeXt-T
# recipe, inherited as is (mmseg convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py:
# UperNet + FCN auxiliary head with SyncBN, AMP AdamW lr 1e-4, betas (0.9, 0.999), wd 0.05
# (:28-39), stage-wise lr decay 0.9 with num_layers 6, i.e. one lr per stage (:33-37),
# linear warm-up over 1500 iterations then poly decay (:41-50), slide inference 512 / 341
# (:25)). Only its optimizer constructor is swapped for LayerDecayOptimWrapperConstructor,
# which gives ConvNeXt the same lrs (tested against mmseg's) and asks any backbone for its
# stage or layer ids. The configs in configs/upernet/ set model.backbone (ConvNeXt family:
# mmseg's drop path 0.4 for -T, :14) and, for the Transformers, layer-wise decay.
_base_ = ['mmseg::convnext/convnext-tiny_upernet_8xb2-amp-160k_ade20k-512x512.py']
optim_wrapper = dict(constructor='LayerDecayOptimWrapperConstructor')
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipelines.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
val_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.test_pipeline[1:]))
test_dataloader = val_dataloader
# not ../plugin.py: mmseg's ConvNeXt base already sets custom_imports (two bases may not
# share a key); the same two lines as the plugin
custom_imports = dict(imports=['lkssl_mm', 'mmpretrain.models'], allow_failed_imports=False)
runner_type = 'RunLengthRunner'
