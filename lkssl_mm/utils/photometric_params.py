"""The layout of multi-crop's per-view colour parameters.

The contract between the data loader's :class:`~lkssl_mm.datasets.MultiCrop`,
which draws them, and the model's ``MultiCropDataPreprocessor``, which applies
them. It lives at the bottom layer so that neither of the two sibling packages
imports the other.
"""

#: Columns of ``photometric_params`` (one row per view), in the order the
#: preprocessor applies them: colour jitter (if ``jitter``, the four
#: adjustments in the order ``order_0..3``, 0 brightness, 1 contrast,
#: 2 saturation, 3 hue, as torchvision's ColorJitter), grayscale, blur,
#: solarisation.
PHOTOMETRIC_PARAMS = ('jitter', 'brightness', 'contrast', 'saturation', 'hue', 'order_0',
                      'order_1', 'order_2', 'order_3', 'grayscale', 'blur', 'blur_sigma',
                      'solarize', 'solarize_threshold')
#: The colour-jitter adjustments, indexed as ``order_*`` name them.
JITTER_OPS = ('brightness', 'contrast', 'saturation', 'hue')

__all__ = ['PHOTOMETRIC_PARAMS', 'JITTER_OPS']
