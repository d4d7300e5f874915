"""Baselines for near-duplicate search without a network: a perceptual hash and raw pixels."""
from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

from .evaluation import recall_at_1_from_scores


def phash_bits(images, flip: bool = False) -> np.ndarray:
    """64-bit pHash of each image [0, 1] (N, H, W, 3) (of its mirror image with flip=True): (N, 64) bool."""
    pictures = (Image.fromarray((np.asarray(image) * 255).round().astype(np.uint8)) for image in images)
    if flip:
        pictures = (picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for picture in pictures)
    return np.array([imagehash.phash(picture).hash.ravel() for picture in pictures], dtype=bool)


def hamming_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of differing bits between every hash of a (N, B) and of b (M, B): (N, M) int."""
    return (a[:, None, :] != b[None, :, :]).sum(axis=2)


def phash_recall_at_1(data, flip_query: bool = False) -> dict[str, float]:
    """recall@1 per transform of pHash on a NearDuplicateSet; flip_query also tries each query's mirror image."""
    hashes = phash_bits(data.images)
    index = hashes[data.index_idx]
    distance = hamming_distances(hashes[data.query_idx], index)
    if flip_query:
        distance = np.minimum(distance, hamming_distances(phash_bits(data.images[data.query_idx], flip=True), index))
    return recall_at_1_from_scores(-distance, data)


def raw_pixel_embeddings(images, side: int = 16) -> np.ndarray:
    """Images [0, 1] (N, S, S, 3) as side x side thumbnails minus their mean: (N, side * side * 3).

    S must be a multiple of side (block averages).
    """
    images = np.asarray(images, dtype=np.float32)
    n, size = len(images), images.shape[1]
    block = size // side
    thumbs = images.reshape(n, side, block, side, block, 3).mean(axis=(2, 4)).reshape(n, -1)
    return thumbs - thumbs.mean(axis=1, keepdims=True)
