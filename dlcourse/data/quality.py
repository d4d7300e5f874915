"""An image-quality set built like TID2013 / KADID-10k: reference patches and graded distortions of them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .photos import PHOTOS, draw_tiles, jpeg_roundtrip, to_float, to_uint8
from .splits import DEFAULT_FRACTIONS, SPLIT_NAMES, Split, split_from_indices, split_indices

# Strength of each distortion at levels 1..5 (level 0 is the untouched reference).
DISTORTION_LEVELS = {
    "gaussian_blur": (0.5, 0.8, 1.6, 2.5, 4.0),
    "motion_blur": (2, 3, 6, 10, 16),
    "gaussian_noise": (0.01, 0.02, 0.05, 0.08, 0.12),
    "jpeg": (75, 50, 20, 10, 5),
    "over_exposure": (0.2, 0.4, 1.0, 1.5, 2.0),
    "under_exposure": (0.25, 0.5, 1.2, 1.8, 2.5),
}
DISTORTION_UNITS = {
    "gaussian_blur": "sigma in pixels",
    "motion_blur": "streak length in pixels",
    "gaussian_noise": "noise sigma, image in [0, 1]",
    "jpeg": "JPEG quality (lower is worse)",
    "over_exposure": "stops brighter",
    "under_exposure": "stops darker",
}
# The good/bad rule: a sample is "bad" when its level is at least QUALITY_RULE[distortion].
# The levels are spaced so that there is no ambiguous middle: levels 1-2 are barely visible at 100 % zoom,
# and the strength jumps (about 2x) to level 3, from which on the damage is plain to see.
QUALITY_RULE = {
    "gaussian_blur": 3,
    "motion_blur": 3,
    "gaussian_noise": 3,
    "jpeg": 3,
    "over_exposure": 3,
    "under_exposure": 3,
}
DISTORTION_NAMES = ("none", *DISTORTION_LEVELS)  # code 0 is the pristine reference
QUALITY_CLASS_NAMES = ("good", "bad")
# Photos that cannot serve as pristine references: name -> why.
NOT_PRISTINE = {
    "clock": "motion blurred on purpose",
}
DISPLAY_GAMMA = 2.2  # exposure is changed in linear light, then re-encoded for display


@dataclass(frozen=True, eq=False, repr=False)
class QualitySet:
    """Distorted patches and their labels; images (N, H, W, 3) float32 in [0, 1], per-sample (N,) arrays."""

    images: np.ndarray  # (N, H, W, 3) float32 in [0, 1]
    label: np.ndarray  # (N,) int64, 0 good / 1 bad
    distortion: np.ndarray  # (N,) int64 code into distortion_names
    level: np.ndarray  # (N,) int64, 0 for the pristine reference
    reference_id: np.ndarray  # (N,) int64 row of `references`
    source: np.ndarray  # (N,) str, photo the reference patch was cut from
    split: np.ndarray  # (N,) str, "train" / "val" / "test"
    references: np.ndarray  # (R, H, W, 3) float32 in [0, 1]
    distortion_names: tuple[str, ...] = DISTORTION_NAMES
    class_names: tuple[str, ...] = QUALITY_CLASS_NAMES

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        counts = {name: int(np.sum(self.split == name)) for name in SPLIT_NAMES}
        return (f"QualitySet(images={self.images.shape}, references={len(self.references)}, "
                f"bad={int(self.label.sum())}, splits={counts})")

    def as_split(self, seed: int = 0) -> Split:
        """Split of images (N, H, W, 3) float32 and good/bad labels (N,) int64, each part shuffled with `seed`."""
        rng = np.random.default_rng(seed)
        parts = [rng.permutation(np.flatnonzero(self.split == name)) for name in SPLIT_NAMES]
        return split_from_indices(self.images, self.label, self.class_names, *parts)


def quality_label(distortion: str, level: int) -> int:
    """The stated rule: 1 ("bad") when level >= QUALITY_RULE[distortion], else 0 ("good")."""
    return int(distortion != "none" and level >= QUALITY_RULE[distortion])


def describe_quality_rule() -> str:
    """The distortion levels and the good/bad rule as a printable table (str)."""
    lines = [f"{'distortion':16s} {'levels 1..5':32s} bad from level   unit"]
    for name, values in DISTORTION_LEVELS.items():
        shown = " ".join(f"{v:g}" for v in values)
        lines.append(f"{name:16s} {shown:32s} {QUALITY_RULE[name]:<15d}  {DISTORTION_UNITS[name]}")
    return "\n".join(lines)


def gaussian_blur(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Blur (N, H, W, 3) float images with a Gaussian of `sigma` pixels."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="reflect")


def motion_kernel(length: float, angle_degrees: float) -> np.ndarray:
    """Point-spread function of a straight camera shake of `length` pixels: (K, K) float64 summing to 1."""
    radius = int(np.ceil(length / 2)) + 1
    steps = np.linspace(-length / 2, length / 2, 16 * int(np.ceil(length)) + 1)
    rows = radius + steps * np.sin(np.radians(angle_degrees))
    cols = radius + steps * np.cos(np.radians(angle_degrees))
    top, left = np.floor(rows).astype(int), np.floor(cols).astype(int)
    kernel = np.zeros((2 * radius + 1, 2 * radius + 1))
    for dy, weight_y in ((0, 1 - (rows - top)), (1, rows - top)):
        for dx, weight_x in ((0, 1 - (cols - left)), (1, cols - left)):
            np.add.at(kernel, (top + dy, left + dx), weight_y * weight_x)
    return kernel / kernel.sum()


def motion_blur(images: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """Blur (N, H, W, 3) float images along a straight streak of `length` pixels, random direction per image."""
    from scipy.signal import fftconvolve

    margin = int(np.ceil(length / 2)) + 1
    padded = np.pad(images, ((0, 0), (margin, margin), (margin, margin), (0, 0)), mode="reflect")
    blurred = [
        fftconvolve(image, motion_kernel(length, angle)[:, :, None], mode="same", axes=(0, 1))
        for image, angle in zip(padded, rng.uniform(0, 180, len(images)))
    ]
    return np.stack(blurred)[:, margin:-margin, margin:-margin]


def gaussian_noise(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise of standard deviation `sigma` to (N, H, W, 3) float images in [0, 1]."""
    return images + rng.normal(0.0, sigma, images.shape)


def jpeg(images: np.ndarray, quality: int, rng: np.random.Generator) -> np.ndarray:
    """JPEG-compress (N, H, W, 3) float images in [0, 1] at Pillow `quality`."""
    return np.stack([jpeg_roundtrip(image, quality) for image in to_uint8(images)]) / 255.0


def change_exposure(images: np.ndarray, stops: float) -> np.ndarray:
    """Scale the light of (N, H, W, 3) float images in [0, 1] by 2**stops, clipping what saturates."""
    linear = np.clip(images, 0, 1) ** DISPLAY_GAMMA * 2.0 ** stops
    return np.clip(linear, 0, 1) ** (1 / DISPLAY_GAMMA)


def over_exposure(images: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """Brighten (N, H, W, 3) float images by `stops` camera stops."""
    return change_exposure(images, stops)


def under_exposure(images: np.ndarray, stops: float, rng: np.random.Generator) -> np.ndarray:
    """Darken (N, H, W, 3) float images by `stops` camera stops."""
    return change_exposure(images, -stops)


DISTORTIONS = {
    "gaussian_blur": gaussian_blur,
    "motion_blur": motion_blur,
    "gaussian_noise": gaussian_noise,
    "jpeg": jpeg,
    "over_exposure": over_exposure,
    "under_exposure": under_exposure,
}


def quality_photo_names() -> list[str]:
    """Bundled photos used as pristine references (all but NOT_PRISTINE), sorted."""
    return sorted(set(PHOTOS) - set(NOT_PRISTINE))


def make_quality_set(patch_size: int = 64, n_references: int = 96, split=DEFAULT_FRACTIONS,
                     seed: int = 0, photos=None) -> QualitySet:
    """Reference patches plus 6 distortions x 5 levels each: images (N, patch_size, patch_size, 3) float32 in [0, 1].

    The references are cut from the named bundled photos (default: all but NOT_PRISTINE); the split keeps
    every photo in one part.
    """
    rng = np.random.default_rng(seed)
    tiles, tile_sources = draw_tiles(quality_photo_names() if photos is None else photos, patch_size, n_references, rng)
    if len(tiles) == 0:
        raise ValueError(f"No usable {patch_size}x{patch_size} patch fits in the chosen photos; "
                         "use a smaller patch_size or more photos.")
    references = tiles.astype(np.float64) / 255
    blocks = [(tiles, "none", 0)] + [
        (to_uint8(DISTORTIONS[name](references, value, rng)), name, level)
        for name, values in DISTORTION_LEVELS.items()
        for level, value in enumerate(values, start=1)
    ]
    return assemble_quality_set(blocks, to_float(tiles), np.array(tile_sources), split, seed)


def assemble_quality_set(blocks, references, tile_sources, split, seed) -> QualitySet:
    """QualitySet from blocks of (images (R, H, W, 3) uint8, distortion name, level), one block per level."""
    n_refs = len(references)
    distortion = np.repeat([DISTORTION_NAMES.index(name) for _, name, _ in blocks], n_refs)
    level = np.repeat([lvl for _, _, lvl in blocks], n_refs)
    label = np.repeat([quality_label(name, lvl) for _, name, lvl in blocks], n_refs)
    reference_id = np.tile(np.arange(n_refs), len(blocks))
    source = tile_sources[reference_id]
    return QualitySet(
        images=to_float(np.concatenate([images for images, _, _ in blocks])),
        label=label.astype(np.int64),
        distortion=distortion.astype(np.int64),
        level=level.astype(np.int64),
        reference_id=reference_id.astype(np.int64),
        source=source,
        split=split_by_source(source, split, seed),
        references=references,
    )


def split_by_source(source: np.ndarray, fractions, seed: int) -> np.ndarray:
    """Split name per sample (N,) str, drawn per source photo so that no photo spans two splits."""
    photos = np.unique(source)
    parts = split_indices(photos, fractions, seed, stratify=False)
    photo_split = {photo: name for name, part in zip(SPLIT_NAMES, parts) for photo in photos[part]}
    return np.array([photo_split[photo] for photo in source])
