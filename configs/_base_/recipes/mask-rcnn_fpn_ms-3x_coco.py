# Mask R-CNN + FPN on COCO, 3x schedule (36 epochs) with multi-scale + crop augmentation:
# mmdet's ConvNeXt-T 3x recipe, inherited as is (convnext/mask-rcnn_convnext-t-p4-w7_fpn_
# amp-ms-crop-3x_coco.py: AMP AdamW lr 1e-4, betas (0.9, 0.999), wd 0.05, layer-wise lr
# decay 0.95 with num_layers 6, warm-up 1000 iterations, lr x0.1 after epochs 27 and 33,
# DETR-style multi-scale + crop pipeline, 8 GPUs x 2 images; drop path 0.4 is set by each
# ConvNeXt-family config, as there). Only its optimizer constructor is swapped for
# LayerDecayOptimWrapperConstructor, which gives ConvNeXt the same lrs (tested against
# mmdet's) and asks any backbone for its layer ids. The configs in configs/mask_rcnn/ add a
# backbone base config and set model.backbone; backbones with another layer count (Swin,
# ViT) reset num_layers.
_base_ = ['mmdet::convnext/mask-rcnn_convnext-t-p4-w7_fpn_amp-ms-crop-3x_coco.py']
optim_wrapper = dict(constructor='LayerDecayOptimWrapperConstructor')
# Refuse corrupt / truncated images (docs/reliability.md) in the inherited pipelines.
train_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.train_pipeline[1:]))
val_dataloader = dict(
    dataset=dict(pipeline=[dict(type='StrictLoadImageFromFile')] + _base_.test_pipeline[1:]))
test_dataloader = val_dataloader
# not ../plugin.py: mmdet's base already sets custom_imports (two bases may not share a key)
custom_imports = dict(imports=['lkssl_mm', 'mmpretrain.models'], allow_failed_imports=False)
runner_type = 'RunLengthRunner'
