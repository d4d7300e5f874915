"""Check of module 00_setup's warm-up: an RGB image to grayscale with the ITU-R BT.601 luma weights.

The reference is the closed form Y = 0.299 R + 0.587 G + 0.114 B in float64. ``tf.image.rgb_to_grayscale``
uses the same weights with red rounded to 0.2989; the tolerance accepts it, and tests/ confirms the agreement.
"""
from __future__ import annotations

import numpy as np

from .core import HIDDEN, Case, Exercise, Mistake, case_rng, checker, close_arrays

LUMA_BT601 = np.array([0.299, 0.587, 0.114])
LUMA_BT709 = np.array([0.2126, 0.7152, 0.0722])  # the HDTV weights skimage.color.rgb2gray uses
RTOL, ATOL = 1e-3, 1e-4
TOLERANCE = f"rtol={RTOL:g}, atol={ATOL:g} (float32 images and TensorFlow's red weight 0.2989 pass)"


def _rng(which: str) -> np.random.Generator:
    return case_rng(0, which, 0)


def _to_grayscale_cases(which: str) -> list[Case]:
    rng = _rng(which)
    if which == HIDDEN:
        return [Case("a (1, 1, 3) image", (rng.uniform(size=(1, 1, 3)),)),
                Case("a (9, 5, 3) float32 image", (rng.uniform(size=(9, 5, 3)).astype(np.float32),)),
                Case("a gray image stays the same", (np.repeat(rng.uniform(size=(4, 4, 1)), 3, axis=2),))]
    return [Case("pure red, green and blue pixels give the three weights", (np.eye(3).reshape(1, 3, 3),)),
            Case("a (3, 4, 3) image with values in [0, 1]", (rng.uniform(size=(3, 4, 3)),))]


def _weighted_channels(case: Case, weights: np.ndarray = LUMA_BT601) -> np.ndarray:
    return np.asarray(case.args[0], dtype=np.float64) @ weights


TO_GRAYSCALE = Exercise(
    name="to_grayscale",
    cases=_to_grayscale_cases,
    reference=_weighted_channels,
    compare=close_arrays(RTOL, ATOL),
    tolerance=TOLERANCE,
    from_scratch=False,
    mistakes=[Mistake("that is the plain mean of the channels; the eye is most sensitive to green, so weight "
                      "them: 0.299 R + 0.587 G + 0.114 B.",
                      lambda case: np.asarray(case.args[0], dtype=np.float64).mean(axis=-1)),
              Mistake("the weights are in the wrong order (B, G, R): channel 0 is red and gets 0.299, channel 2 "
                      "is blue and gets 0.114.",
                      lambda case: _weighted_channels(case, LUMA_BT601[::-1])),
              Mistake("those are the BT.709 weights of skimage.color.rgb2gray; this exercise uses BT.601: "
                      "0.299, 0.587, 0.114.",
                      lambda case: _weighted_channels(case, LUMA_BT709)),
              Mistake("return shape (H, W): sum over the channel axis instead of keeping it as (H, W, 1).",
                      lambda case: _weighted_channels(case)[..., np.newaxis])],
)

EXERCISES = (TO_GRAYSCALE,)

check_to_grayscale = checker(TO_GRAYSCALE)
