"""Image files for the search tool: finding them in a folder, reading them, hashing them, thumbnails."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# What Pillow raises for files it cannot decode: unknown format, truncated data, broken chunks, huge images.
READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class ImageReadError(ValueError):
    """A file that Pillow cannot read as an image; the message names the file and the reason."""


def find_images(folder: Path, exclude: Path | None = None) -> tuple[list[Path], int]:
    """Image files under folder (recursively, by suffix, hidden folders and `exclude` skipped), sorted.

    Returns (paths relative to folder, number of other files ignored).
    """
    found, ignored = [], 0
    exclude = exclude.resolve() if exclude else None
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or (exclude and exclude in path.resolve().parents):
            continue
        if path.is_file():
            if path.suffix.lower() in IMAGE_SUFFIXES:
                found.append(relative)
            else:
                ignored += 1
    return found, ignored


def open_upright(path: Path, at_least: int | None = None) -> Image.Image:
    """A file as an RGB Pillow image turned the way its EXIF orientation says; ImageReadError if unreadable.

    at_least: a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size (Pillow's draft mode, much faster) as long as
    both sides stay at least this long.
    """
    try:
        with Image.open(path) as image:
            if at_least:
                image.draft("RGB", (at_least, at_least))
            image.load()
            return ImageOps.exif_transpose(image).convert("RGB")
    except READ_ERRORS as err:
        raise ImageReadError(f"{path} is not an image Pillow can read ({type(err).__name__}: {err})") from None


def read_image(path: Path, size: int) -> np.ndarray:
    """A file as (size, size, 3) float32 in [0, 1]: upright, RGB, resized (bicubic) to a square.

    Large photos are decoded and shrunk fast (JPEG draft mode, Pillow's reducing_gap) down to twice the size
    first, which changes the result by well under one grey level.
    """
    image = open_upright(path, 2 * size).resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0)
    return np.asarray(image, dtype=np.float32) / 255.0


def thumbnail_jpeg(path: Path, side: int = 160) -> bytes | None:
    """A JPEG thumbnail (longest side `side`) of an image file, or None when it cannot be read."""
    try:
        image = open_upright(path, side)
    except ImageReadError:
        return None
    image.thumbnail((side, side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
