"""Figures of modules 03 and 05: filters on one shared scale, the block diagrams, the residual block."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from dlcourse.plots import CLASSIC_ARCHITECTURES, draw_architectures, draw_residual_block, show_filters

FILTERS = np.stack([np.full((5, 5), 0.01), np.eye(5) * 2.0, -np.ones((5, 5))])


def _images(figure):
    return [image for ax in figure.axes for image in ax.images]


def test_filters_on_a_shared_scale_have_one_range_and_a_colour_bar():
    figure = show_filters(FILTERS, shared_scale=True)
    assert {image.get_clim() for image in _images(figure)} == {(-2.0, 2.0)}
    assert any(ax.get_ylabel() == "weight" for ax in figure.axes)  # the colour bar


def test_filters_default_to_their_own_scale():
    figure = show_filters(FILTERS)
    assert [image.get_clim() for image in _images(figure)] == [(-0.01, 0.01), (-2.0, 2.0), (-1.0, 1.0)]


def test_the_architecture_diagram_draws_every_block_of_every_network():
    ax = Figure().subplots()
    draw_architectures(ax)
    boxes = [patch for patch in ax.patches if isinstance(patch, FancyBboxPatch)]
    assert len(boxes) == sum(len(blocks) for blocks in CLASSIC_ARCHITECTURES.values())
    names = {text.get_text() for text in ax.texts}
    assert set(CLASSIC_ARCHITECTURES) <= names and "3 x block 64" in names
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"input", "conv", "pool", "residual", "dense"}


def test_the_residual_block_shows_both_paths_meeting_at_the_sum():
    ax = Figure().subplots()
    draw_residual_block(ax, shortcut="1x1 conv, stride 2")
    texts = [text.get_text() for text in ax.texts if text.get_text()]
    assert texts.count("3x3 conv") == 2 and "+" in texts and "shortcut: 1x1 conv, stride 2" in texts
    (shortcut,) = ax.lines
    assert list(shortcut.get_xdata()) == [0, 0, texts.index("+")]
