"""Two ways to describe an image's quality by numbers: hand-made statistics, and a frozen ImageNet backbone.

The hand-made features measure what the distortions change (sharpness, noise, JPEG blocks, exposure); a
logistic regression on them is the bar a CNN must beat. The ImageNet features are the frozen EfficientNet-Lite0's
mid-level blocks (strides 8 and 16), each global-average pooled, on the patches upsampled to 96 pixels: the top's
pooled features were trained to ignore blur, noise and exposure, the middle blocks still see them (module 06).
They are kept in the course's cache folder so that a lecture computes them once.

Full-data accuracy on the test photos (logistic regression, C chosen by cross-validation over the pool's photos):
hand-made 65-70 %, the top's 1280 pooled features about 60 %, the mid-level blocks about 79 % (96 px; 128 px
cross-validates a point better at twice the CPU time and 2 GB of memory; standard-deviation pooling does not help).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from dlcourse.models.transfer import MID_LEVEL_LAYERS
from dlcourse.files import replacing

IMAGENET_SIZE = 96  # the 64-pixel patches upsampled: the mid-level blocks then see blur and JPEG blocks larger
MID_LEVEL_BATCH = 32  # images in the network at once: the activations of upsampled patches take memory
IMAGENET_C = 0.003  # logistic C on the mid-level features and (below) on the hand-made ones, each chosen by
HANDMADE_C = 1.0  # 5-fold cross-validation over the pool's photos (benchmarks/bench_active_learning.py, table 0)
HANDMADE_FEATURE_NAMES = (
    "log laplacian variance", "log mean gradient", "high-frequency share", "log noise (MAD of residual)",
    "log JPEG blockiness", "mean brightness", "brightness std", "1st percentile", "99th percentile",
    "share near black", "share near white", "log colourfulness",
    "re-blur loss sigma 0.7", "re-blur loss sigma 1.5", "re-blur loss sigma 3", "log median-filter residual",
)
EPS = 1e-6


def luminance(images) -> np.ndarray:
    """Rec. 601 luma (N, H, W) float64 of RGB images (N, H, W, 3) in [0, 1]."""
    return np.asarray(images, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])


def blockiness(gray: np.ndarray, block: int = 8) -> np.ndarray:
    """Mean jump across 8-pixel block borders over the mean jump elsewhere, per image: gray (N, H, W) -> (N,)."""
    jumps = np.abs(np.diff(gray, axis=2))  # (N, H, W - 1): jump between columns c and c + 1
    border = (np.arange(jumps.shape[2]) % block) == block - 1
    return (jumps[:, :, border].mean(axis=(1, 2)) + EPS) / (jumps[:, :, ~border].mean(axis=(1, 2)) + EPS)


def mean_jump(gray: np.ndarray) -> np.ndarray:
    """Mean absolute difference between neighbouring pixels of gray (N, H, W), both directions: (N,)."""
    return np.abs(np.diff(gray, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(gray, axis=2)).mean(axis=(1, 2))


def reblur_losses(gray: np.ndarray, sigmas=(0.7, 1.5, 3.0)) -> list[np.ndarray]:
    """log(detail after a Gaussian re-blur / detail before) per sigma, each (N,): a sharp image loses much
    detail, an already blurred one little, whatever its content (the "blur effect" measure)."""
    from scipy.ndimage import gaussian_filter

    before = mean_jump(gray) + EPS
    return [np.log((mean_jump(np.stack([gaussian_filter(g, s) for g in gray])) + EPS) / before) for s in sigmas]


def handmade_features(images) -> np.ndarray:
    """Sharpness, noise, blockiness and exposure statistics of images (N, H, W, 3) in [0, 1]: (N, 16) float64.

    Columns in the order of HANDMADE_FEATURE_NAMES.
    """
    from scipy.ndimage import gaussian_filter, laplace, median_filter, sobel

    images = np.asarray(images, dtype=np.float64)
    gray = luminance(images)
    per_image = (1, 2)
    lap = np.stack([laplace(g) for g in gray])
    gradient = np.hypot(*(np.stack([sobel(g, axis=a) for g in gray]) for a in (0, 1)))
    residual = gray - np.stack([gaussian_filter(g, 1.0) for g in gray])
    noise = np.median(np.abs(residual - np.median(residual, axis=per_image, keepdims=True)), axis=per_image)
    colour = images.std(axis=3).mean(axis=per_image)
    median = np.stack([median_filter(g, 3) for g in gray])
    columns = [
        np.log(lap.var(axis=per_image) + EPS),
        np.log(gradient.mean(axis=per_image) + EPS),
        lap.var(axis=per_image) / (gray.var(axis=per_image) + lap.var(axis=per_image) + EPS),
        np.log(noise + EPS),
        np.log(blockiness(gray)),
        gray.mean(axis=per_image),
        gray.std(axis=per_image),
        np.percentile(gray, 1, axis=per_image),
        np.percentile(gray, 99, axis=per_image),
        (gray < 0.02).mean(axis=per_image),
        (gray > 0.98).mean(axis=per_image),
        np.log(colour + EPS),
        *reblur_losses(gray),
        np.log(np.abs(gray - median).mean(axis=per_image) + EPS) - np.log(mean_jump(median) + EPS),
    ]
    return np.stack(columns, axis=1)


def features_cache_path(images: np.ndarray, name: str, image_size, layers) -> Path:
    """Where the ImageNet features of these images are kept:
    <cache>/features/<name>_<size>_<layers>_<digest>.npy, so that other layers or sizes never share a file."""
    from dlcourse.models.backbones import cache_dir

    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes()).hexdigest()[:20]
    where = "top" if layers is None else hashlib.sha256(",".join(layers).encode()).hexdigest()[:8]
    return cache_dir() / "features" / f"{name}_{image_size or 'native'}_{where}_{digest}.npy"


def mid_level_features(images, name: str, image_size, layers, batch_size: int = MID_LEVEL_BATCH) -> np.ndarray:
    """The named blocks' outputs for images (N, H, W, 3) resized to image_size, each global-average pooled, side by
    side: (N, sum C) float32. One pass, batch_size images in the network at once."""
    from dlcourse.models.backbones import LITE0, bilinear_resized, check_images, pretrained_backbone
    from dlcourse.models.transfer import layer_outputs

    if name != LITE0:
        raise ValueError(f"layers={list(layers)} names blocks of {LITE0!r}; for {name!r} pass layers=None (its "
                         "pooled top features).")
    images = bilinear_resized(check_images(images), image_size)
    pooled, _ = layer_outputs(pretrained_backbone(name, images.shape[1:]), images, pooled=layers,
                              batch_size=batch_size)
    return np.concatenate([pooled[layer] for layer in layers], axis=1)


def imagenet_features(images, name: str = "efficientnet_lite0", image_size=IMAGENET_SIZE,
                      layers=MID_LEVEL_LAYERS, cache: bool = True) -> np.ndarray:
    """Frozen-backbone features of images (N, H, W, 3) in [0, 1]: (N, D) float32, read from the cache when there.

    By default the mid-level blocks of EfficientNet-Lite0 (MID_LEVEL_LAYERS, strides 8 and 16: where blur, noise
    and JPEG blocks still show), each global-average pooled, D = 424, on the images resized to image_size;
    layers=None gives the top's pooled 1280 features instead (any backbone of dlcourse.models.backbones).
    The features are computed once per set of images, backbone, size and layers and saved atomically in the
    course's cache folder ($DLCOURSE_CACHE_DIR, else the user cache folder); cache=False always computes them.
    """
    from dlcourse.models.backbones import image_features

    images = np.asarray(images, dtype=np.float32)
    layers = None if layers is None else tuple(layers)
    path = features_cache_path(images, name, image_size, layers) if cache else None
    if path is not None and path.is_file():
        try:
            stored = np.load(path)
            if stored.shape[0] == len(images):
                return stored
        except (OSError, ValueError):
            pass  # a damaged cache entry is recomputed and replaced below
    if layers is None:
        features = image_features(images, name=name, image_size=image_size)
    else:
        features = mid_level_features(images, name, image_size, layers)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as temporary, temporary.open("wb") as out:
            np.save(out, features)
    return features
