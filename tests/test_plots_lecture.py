"""Lecture plots of module 01: decision boundaries, loss curves, weight images."""
from __future__ import annotations

import warnings

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from dlcourse.plots import CLASS_COLORS, plot_decision_boundary, plot_loss_curve, plot_weight_image

X = np.array([[-2.0, -1.0], [-1.0, -2.0], [1.0, 2.0], [2.0, 1.0], [1.5, 1.5]])
y = np.array([0, 0, 1, 1, 1])


def new_axes():
    return Figure().subplots()


def boundary_lines(ax) -> list[ContourSet]:
    """The line contours (not the filled regions) drawn on ax."""
    return [c for c in ax.collections if isinstance(c, ContourSet) and not c.filled]


def boundary_vertices(ax) -> np.ndarray:
    """Vertices of the one boundary line drawn on ax, stacked: (K, 2)."""
    (line,) = boundary_lines(ax)
    return np.vstack([path.vertices for path in line.get_paths()])


def test_decision_boundary_draws_the_line_where_the_score_crosses_the_level():
    ax = new_axes()
    figure = plot_decision_boundary(ax, lambda points: points[:, 0] + points[:, 1], X, y, level=0.0, title="t")
    assert figure is ax.figure
    line = boundary_vertices(ax)
    np.testing.assert_allclose(line.sum(axis=1), 0.0, atol=0.05)  # on x1 + x2 = 0
    assert ax.get_title() == "t"


def test_decision_boundary_colours_the_points_by_class():
    ax = new_axes()
    plot_decision_boundary(ax, lambda points: 1 / (1 + np.exp(-points[:, 0])), X, y)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(s.get_offsets()) for s in scatters] == [2, 3]
    for scatter, label in zip(scatters, (0, 1)):
        np.testing.assert_array_equal(scatter.get_offsets(), X[y == label])
    assert [s.get_label() for s in scatters] == ["y = 0", "y = 1"]
    assert len(CLASS_COLORS) == 2


def test_decision_boundary_takes_keras_shaped_predictions():
    ax = new_axes()
    plot_decision_boundary(ax, lambda points: (points[:, 1] > 0).astype(float)[:, None], X, y)
    assert len(boundary_vertices(ax)) > 0


def test_a_constant_predictor_draws_no_line_and_no_warning():
    ax = new_axes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_decision_boundary(ax, lambda points: np.full(len(points), 0.5), X, y)
    assert boundary_lines(ax) == []


def test_loss_curve_plots_each_value_at_its_epoch_and_marks_the_chosen_ones():
    ax = new_axes()
    losses = [0.7, 0.4, 0.3, 0.25]
    figure = plot_loss_curve(ax, losses, label="numpy", marked_epochs=[1, 3])
    assert figure is ax.figure
    curve, marks = ax.lines
    np.testing.assert_array_equal(curve.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_array_equal(curve.get_ydata(), losses)
    np.testing.assert_array_equal(marks.get_xdata(), [1, 3])
    np.testing.assert_array_equal(marks.get_ydata(), [0.4, 0.25])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["numpy"]


def test_loss_curve_counts_from_the_first_epoch_with_integer_ticks():
    ax = new_axes()
    plot_loss_curve(ax, [4, 2, 0], ylabel="mistakes", first_epoch=1)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    assert ax.get_legend() is None
    ticks = ax.get_yticks()
    assert np.array_equal(ticks, np.round(ticks))


def test_weight_image_is_centred_on_zero():
    ax = new_axes()
    weights = np.array([[0.5, -2.0], [1.0, 0.0]])
    figure = plot_weight_image(ax, weights, title="w")
    (image,) = ax.images
    assert image.get_clim() == (-2.0, 2.0)
    np.testing.assert_array_equal(image.get_array(), weights)
    assert len(figure.axes) == 2  # the image and its colour bar


def test_weight_image_of_zeros_has_a_valid_colour_range():
    ax = new_axes()
    plot_weight_image(ax, np.zeros((8, 8)))
    assert ax.images[0].get_clim() == (-1.0, 1.0)
