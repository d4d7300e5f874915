"""A near-duplicate set for visual search: originals, edited copies of them, and unrelated distractors."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .photos import draw_tiles, jpeg_roundtrip, photo_names, to_float, to_uint8

OVERLAY_TEXTS = ("SAMPLE", "(c) 2024", "dlcourse", "COPY", "#42", "sale!")
ORIGINAL = "original"
DISTRACTOR = "distractor"
# Random strength of each edit, drawn uniformly from (low, high).
TRANSFORM_RANGES = {
    "crop": (0.6, 0.85),  # side of the kept window, as a fraction of the image side
    "rescale": (0.35, 0.6),  # side of the shrunk image, as a fraction
    "rotate": (4, 15),  # degrees, either way
    "jpeg": (8, 25),  # JPEG quality
    "color_shift": (0.75, 1.25),  # gain of each colour channel
    "brightness": (1.25, 1.5),  # gain, or its inverse
    "text_overlay": (0.15, 0.2),  # font size, as a fraction of the side
    "logo_overlay": (0.3, 0.45),  # logo side, as a fraction of the image side
}


@dataclass(frozen=True, eq=False, repr=False)
class NearDuplicateSet:
    """Originals, copies and distractors: images (N, S, S, 3) float32 in [0, 1] and their ground truth."""

    images: np.ndarray  # (N, S, S, 3) float32 in [0, 1]
    group: np.ndarray  # (N,) int64, the original's id; -1 for distractors
    transform: np.ndarray  # (N,) str, "original", "distractor" or the edit that made the copy
    source: np.ndarray  # (N,) str, photo the image was cut from
    query_idx: np.ndarray  # (Q,) int64 rows of the copies, the queries
    index_idx: np.ndarray  # (M,) int64 rows of originals and distractors, the searchable index
    match_idx: np.ndarray  # (Q,) int64 row of each query's original (the one right answer in the index)
    pairs: np.ndarray  # (P, 2) int64 every unordered pair (i, j), i < j, of images in the same group

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return (f"NearDuplicateSet(images={self.images.shape}, groups={int(self.group.max()) + 1}, "
                f"queries={len(self.query_idx)}, index={len(self.index_idx)}, pairs={len(self.pairs)})")


def resize_to(image: np.ndarray, size: int) -> np.ndarray:
    """Bicubic resize of (H, W, 3) uint8 to (size, size, 3) uint8."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))


def crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep a random window of (S, S, 3) uint8 (side from TRANSFORM_RANGES) and scale it back to S x S."""
    size = image.shape[0]
    side = round(size * rng.uniform(*TRANSFORM_RANGES["crop"]))
    top, left = rng.integers(0, size - side + 1, 2)
    return resize_to(image[top:top + side, left:left + side], size)


def rescale(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shrink (S, S, 3) uint8 and enlarge it back to S x S, losing fine detail."""
    size = image.shape[0]
    return resize_to(resize_to(image, round(size * rng.uniform(*TRANSFORM_RANGES["rescale"]))), size)


def rotate(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotate (S, S, 3) uint8 by a few degrees either way, keeping the largest centred square without corners."""
    size = image.shape[0]
    angle = rng.uniform(*TRANSFORM_RANGES["rotate"]) * rng.choice([-1, 1])
    rotated = np.asarray(Image.fromarray(image).rotate(angle, Image.Resampling.BICUBIC))
    radians = np.radians(abs(angle))
    side = int(size / (np.cos(radians) + np.sin(radians))) - 2
    margin = (size - side) // 2
    return resize_to(rotated[margin:margin + side, margin:margin + side], size)


def flip(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror (S, S, 3) uint8 left to right."""
    return np.ascontiguousarray(image[:, ::-1])


def jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Re-save (S, S, 3) uint8 as a low-quality JPEG."""
    low, high = TRANSFORM_RANGES["jpeg"]
    return jpeg_roundtrip(image, int(rng.integers(low, high + 1)))


def color_shift(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give (S, S, 3) uint8 a colour cast: each channel scaled by its own random gain."""
    return to_uint8(image / 255 * rng.uniform(*TRANSFORM_RANGES["color_shift"], size=3))


def brightness(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brighten or darken (S, S, 3) uint8 by a random gain."""
    return to_uint8(image / 255 * rng.uniform(*TRANSFORM_RANGES["brightness"]) ** rng.choice([-1, 1]))


def text_overlay(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Write a short white caption with a black outline at a random place on (S, S, 3) uint8."""
    size = image.shape[0]
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(10, round(size * rng.uniform(*TRANSFORM_RANGES["text_overlay"]))))
    text = str(rng.choice(OVERLAY_TEXTS))
    _, _, width, height = draw.textbbox((0, 0), text, font=font, stroke_width=1)
    position = (int(rng.integers(0, max(1, size - width))), int(rng.integers(0, max(1, size - height))))
    draw.text(position, text, font=font, fill="white", stroke_width=1, stroke_fill="black")
    return np.asarray(canvas)


@functools.lru_cache(maxsize=1)
def overlay_logo() -> Image.Image:
    """The scikit-image logo as an RGBA Pillow image whose white background is transparent, used as a watermark."""
    import skimage.data

    logo = skimage.data.logo().copy()
    whiteness = logo[:, :, :3].min(axis=2).astype(np.int32)
    logo[:, :, 3] = np.clip((250 - whiteness) * 8, 0, 255)
    return Image.fromarray(logo)


def logo_overlay(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stamp a logo at a random place on (S, S, 3) uint8."""
    size = image.shape[0]
    side = round(size * rng.uniform(*TRANSFORM_RANGES["logo_overlay"]))
    logo = overlay_logo().resize((side, side), Image.Resampling.LANCZOS)
    canvas = Image.fromarray(image)
    canvas.paste(logo, (int(rng.integers(0, size - side + 1)), int(rng.integers(0, size - side + 1))), mask=logo)
    return np.asarray(canvas)


TRANSFORMS = {
    "crop": crop,
    "rescale": rescale,
    "rotate": rotate,
    "flip": flip,
    "jpeg": jpeg,
    "color_shift": color_shift,
    "brightness": brightness,
    "text_overlay": text_overlay,
    "logo_overlay": logo_overlay,
}


def transform_plan(n_originals: int, copies_per_original: int, rng: np.random.Generator) -> list[str]:
    """Transform name of every copy, original by original: distinct within an original, balanced overall."""
    names = [list(TRANSFORMS)[k] for k in rng.permutation(len(TRANSFORMS))]
    return [names[(original * copies_per_original + copy) % len(names)]
            for original in range(n_originals) for copy in range(copies_per_original)]


def duplicate_pairs(group: np.ndarray) -> np.ndarray:
    """Every unordered pair (i, j), i < j, of rows with the same group id >= 0: (P, 2) int64."""
    pairs = [pair for gid in np.unique(group[group >= 0]) for pair in combinations(np.flatnonzero(group == gid), 2)]
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def make_near_duplicates(n_originals: int = 50, copies_per_original: int = 4, n_distractors: int = 150,
                         size: int = 96, seed: int = 0) -> NearDuplicateSet:
    """Photo tiles, edited copies and distractors: images (N, size, size, 3) float32 in [0, 1] with ground truth."""
    if not 1 <= copies_per_original <= len(TRANSFORMS) or n_originals < 1 or n_distractors < 0:
        raise ValueError(f"Need n_originals >= 1, n_distractors >= 0 and copies_per_original between 1 and "
                         f"{len(TRANSFORMS)} (each copy of an original uses a different transform).")
    rng = np.random.default_rng(seed)
    tiles, sources = draw_tiles(photo_names(), size, n_originals + n_distractors, rng)
    if len(tiles) < n_originals + n_distractors:
        raise ValueError(f"The bundled photos hold only {len(tiles)} usable {size}x{size} tiles; lower n_originals "
                         f"+ n_distractors (now {n_originals + n_distractors}) or use a smaller size.")
    plan = transform_plan(n_originals, copies_per_original, rng)
    owners = np.repeat(np.arange(n_originals), copies_per_original)
    copies = [TRANSFORMS[name](tiles[owner], rng) for name, owner in zip(plan, owners)]
    originals, distractors = tiles[:n_originals], tiles[n_originals:]
    group = np.concatenate([np.arange(n_originals), owners, np.full(n_distractors, -1)]).astype(np.int64)
    n_copies = len(copies)
    return NearDuplicateSet(
        images=to_float(np.concatenate([originals, np.stack(copies), distractors])),
        group=group,
        transform=np.array([ORIGINAL] * n_originals + plan + [DISTRACTOR] * n_distractors),
        source=np.array(sources[:n_originals] + [sources[owner] for owner in owners] + sources[n_originals:]),
        query_idx=np.arange(n_originals, n_originals + n_copies, dtype=np.int64),
        index_idx=np.concatenate([np.arange(n_originals), np.arange(n_originals + n_copies, len(group))]),
        match_idx=owners.astype(np.int64),
        pairs=duplicate_pairs(group),
    )
