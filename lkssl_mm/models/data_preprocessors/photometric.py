"""Batched photometric ops with one parameter per sample, on any device.

Every function takes ``imgs`` of shape (N, 3, H, W), float RGB in [0, 255],
and per-sample parameters of shape (N,), and returns a new tensor. They follow
the PIL operations behind torchvision's transforms in facebookresearch/dino's
``DataAugmentationDINO`` (what each computes is said per function); the
differences are that they work in float, without PIL's rounding to uint8
after each op (and, for the hue, of H, S and V), and the blur is an exact
Gaussian where PIL approximates one by three box blurs of the same variance.

torchvision's tensor functions (``adjust_hue`` & co.) take one factor for the
whole batch; these take a factor per sample, which is what a data
preprocessor that augments a whole batch on the GPU needs.
"""
import math

import torch
import torch.nn.functional as F

# ITU-R 601-2 luma, PIL's Image.convert('L') (torchvision's PIL path for grayscale)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def _per_sample(values: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, 1, 1), to broadcast against images."""
    return values.reshape(-1, 1, 1, 1).to(torch.float32)


def grayscale(imgs: torch.Tensor) -> torch.Tensor:
    """Luma (N, 1, H, W) of RGB images, PIL's ``convert('L')`` weights."""
    r, g, b = imgs.unbind(1)
    return (LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b).unsqueeze(1)


def _blend(imgs: torch.Tensor, other: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """``factor * imgs + (1 - factor) * other``, clipped to [0, 255] (PIL's ImageEnhance)."""
    return torch.lerp(other, imgs, _per_sample(factors)).clamp_(0, 255)


def adjust_brightness(imgs: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Scale towards black (PIL ``ImageEnhance.Brightness``)."""
    return (imgs * _per_sample(factors)).clamp_(0, 255)


def adjust_contrast(imgs: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean luma (PIL ``ImageEnhance.Contrast``)."""
    mean = grayscale(imgs).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(imgs, mean, factors)


def adjust_saturation(imgs: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Blend with the image's luma (PIL ``ImageEnhance.Color``)."""
    return _blend(imgs, grayscale(imgs), factors)


def adjust_hue(imgs: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``shift`` turns, keeping HSV value and saturation.

    As in PIL's path of torchvision's ``adjust_hue`` (the reference's), the
    shift is truncated to whole 1/255 turns (PIL stores the hue in uint8 and
    adds ``int(shift * 255)``); the rotation itself is exact, in float. The
    hue is kept in sixths of a turn, ``h6``; the inverse of the HSV conversion
    is ``v - c * clamp(2 - |k - 2|, 0, 1)``, ``k = (h6 + n) mod 6`` for
    n = 5, 3, 1 (R, G, B), with v the maximum and c the chroma (max - min).
    """
    r, g, b = imgs.unbind(1)
    value = imgs.amax(dim=1)
    chroma = value - imgs.amin(dim=1)
    red_max = value == r
    green_max = (value == g) & ~red_max
    hue6 = torch.where(red_max, g - b, torch.where(green_max, b - r, r - g))
    sector = torch.where(red_max, 0., torch.where(green_max, 2., 4.))
    turns = torch.trunc(shifts.to(imgs.dtype) * 255) / 255
    hue6 = hue6.div_(chroma.clamp_min(1e-12)).add_(sector).add_(6 * turns.reshape(-1, 1, 1))
    out = torch.empty_like(imgs)
    for channel, offset in enumerate((5., 3., 1.)):
        distance = torch.remainder(hue6 + offset, 6.).sub_(2.).abs_()
        out[:, channel] = value - chroma * (2. - distance).clamp_(0, 1)
    return out


def to_grayscale(imgs: torch.Tensor) -> torch.Tensor:
    """Luma in all three channels (torchvision ``RandomGrayscale``)."""
    return grayscale(imgs).expand_as(imgs).contiguous()


def gaussian_kernels(sigmas: torch.Tensor, radius: int) -> torch.Tensor:
    """Normalised 1-D Gaussian kernels (N, 2 * radius + 1), one per sigma."""
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32, device=sigmas.device)
    weights = torch.exp(-0.5 * (taps / sigmas.reshape(-1, 1).float()) ** 2)
    return weights / weights.sum(dim=1, keepdim=True)


def gaussian_blur(imgs: torch.Tensor, sigmas: torch.Tensor, max_sigma: float) -> torch.Tensor:
    """Separable Gaussian blur, one standard deviation per sample.

    PIL's ``GaussianBlur(radius)`` (the reference) blurs with standard
    deviation ``radius`` by three box blurs and repeats edge pixels; this is
    the exact Gaussian, cut at ``3 * max_sigma`` and renormalised, with the
    same edge handling: a depthwise (grouped) convolution with one kernel per
    image and channel, along W and then H.

    Args:
        imgs (Tensor): (N, 3, H, W) images.
        sigmas (Tensor): (N,) standard deviations in pixels.
        max_sigma (float): An upper bound of ``sigmas`` (sets the kernel
            size; a Python number, so no device synchronisation is needed).
    """
    n, c, h, w = imgs.shape
    radius = max(1, math.ceil(3 * max_sigma))
    size = 2 * radius + 1
    kernels = gaussian_kernels(sigmas, radius).to(imgs.dtype).repeat_interleave(c, dim=0)
    planes = imgs.reshape(1, n * c, h, w)
    planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode='replicate'),
                      kernels.reshape(n * c, 1, 1, size), groups=n * c)
    planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode='replicate'),
                      kernels.reshape(n * c, 1, size, 1), groups=n * c)
    return planes.reshape(n, c, h, w)


def solarize(imgs: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """Invert every value at or above the threshold (PIL ``ImageOps.solarize``)."""
    return torch.where(imgs >= _per_sample(thresholds), 255 - imgs, imgs)
