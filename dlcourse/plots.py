"""Pictures for the lectures (image grids, distortion levels, ...). Every function returns a matplotlib Figure."""
from __future__ import annotations

import functools
import math

import numpy as np

GOOD_COLOR = "tab:green"
BAD_COLOR = "tab:red"


def new_figure(**kwargs):
    """A matplotlib Figure outside pyplot's global state (kwargs as for Figure), displayable in Jupyter."""
    from matplotlib.figure import Figure

    show_figures_in_notebooks()
    return Figure(**kwargs)


@functools.cache
def show_figures_in_notebooks() -> None:
    """In a Jupyter kernel, render a Figure that is a cell's value as a PNG (pyplot would do it only for its own)."""
    from IPython import get_ipython
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, lambda figure: print_figure(figure, "png"))


def grid_shape(count: int, nrows: int | None, ncols: int | None, max_cols: int = 8) -> tuple[int, int]:
    """(rows, cols) of a grid that holds `count` images, completing whichever of nrows / ncols is None."""
    if count == 0:
        raise ValueError("No images to show; pass an array of shape (N, H, W[, C]) with N >= 1.")
    if nrows is None and ncols is None:
        ncols = min(count, max_cols)
    if ncols is None:
        ncols = math.ceil(count / nrows)
    if nrows is None:
        nrows = math.ceil(count / ncols)
    if nrows * ncols < count:
        raise ValueError(f"A {nrows}x{ncols} grid cannot hold {count} images; raise nrows or ncols.")
    return nrows, ncols


def show_image_grid(images, titles=None, nrows=None, ncols=None, title_colors=None, row_labels=None,
                    cmap="gray", cell_size=1.6, suptitle=None):
    """Grid of images (N, H, W), (N, H, W, 1) or (N, H, W, 3), float in [0, 1] or uint8, with titles: a Figure.

    Inputs:
    - images: the images; greyscale ones use `cmap`, and no image has its contrast stretched.
    - titles: optional N strings (or numbers), one above each image.
    - nrows, ncols: grid size; whichever is None is completed (at most 8 columns when both are None).
    - title_colors: optional N matplotlib colours for the titles, e.g. green for good and red for bad.
    - row_labels: optional text left of each row.
    - cell_size: inches per image; suptitle: optional title of the whole figure.
    """
    images = list(images)
    nrows, ncols = grid_shape(len(images), nrows, ncols)
    figure = new_figure(figsize=(ncols * cell_size, nrows * cell_size + (0.4 if suptitle else 0)),
                    layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
        if index < len(images):
            show_one(ax, images[index], cmap)
        if titles is not None and index < len(titles):
            color = title_colors[index] if title_colors is not None else "black"
            ax.set_title(str(titles[index]), fontsize=8, color=color)
    for row, label in enumerate(row_labels or []):
        axes[row, 0].set_ylabel(str(label), fontsize=8)
    if suptitle:
        figure.suptitle(suptitle)
    return figure


def show_one(ax, image, cmap) -> None:
    """Draw one image (H, W), (H, W, 1) or (H, W, 3) on ax without stretching its contrast."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    high = 255 if image.dtype == np.uint8 else 1
    if image.ndim == 2:
        ax.imshow(image, cmap=cmap, vmin=0, vmax=high)
    else:
        ax.imshow(np.clip(image, 0, high))


def show_quality_levels(dataset, reference_id=0, cell_size=1.3):
    """One row per distortion type, columns level 0 (reference) to 5, titles green good / red bad: a Figure.

    Inputs:
    - dataset: a QualitySet from dlcourse.datasets.make_quality_set().
    - reference_id: which reference patch to show (0 <= reference_id < len(dataset.references)).
    """
    from dlcourse.data.quality import DISTORTION_LEVELS

    levels = range(max(len(values) for values in DISTORTION_LEVELS.values()) + 1)
    images, titles, colors = [], [], []
    for name in DISTORTION_LEVELS:
        code = dataset.distortion_names.index(name)
        for level in levels:
            pick = np.flatnonzero((dataset.reference_id == reference_id) & (dataset.level == level)
                                  & ((dataset.distortion == code) | (level == 0)))[0]
            images.append(dataset.images[pick])
            label = dataset.class_names[dataset.label[pick]]
            value = "reference" if level == 0 else f"{DISTORTION_LEVELS[name][level - 1]:g}"
            titles.append(f"L{level} {value}\n{label}")
            colors.append(BAD_COLOR if dataset.label[pick] else GOOD_COLOR)
    source = dataset.source[np.flatnonzero(dataset.reference_id == reference_id)[0]]
    return show_image_grid(images, titles, nrows=len(DISTORTION_LEVELS), ncols=len(levels), title_colors=colors,
                           row_labels=list(DISTORTION_LEVELS), cell_size=cell_size,
                           suptitle=f"Distortion levels of a patch of '{source}'")


# ---------------------------------------------------------------------------------------------------------
# Classifiers on 2-D points and their training curves (module 01). These draw on an Axes the caller made,
# so that several can share one Figure; each returns that Figure.
# ---------------------------------------------------------------------------------------------------------

CLASS_COLORS = ("tab:blue", "tab:orange")


def plot_decision_boundary(ax, predict_fn, X, y, level=0.5, title=None, resolution=200, margin=0.5):
    """Draw labelled 2-D points, the region of each class and the boundary between them; returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - predict_fn: function mapping points (M, 2) to scores (M,) or (M, 1); class 1 where score > level.
    - X: points, shape (N, 2).
    - y: labels in {0, 1}, shape (N,).
    - level: the score between the classes: 0.5 for probabilities, 0 for w·x + b.
    - title: optional title of ax.
    - resolution: number of grid points per axis at which predict_fn is evaluated.
    - margin: space around the points, in data units.
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    grid_x, grid_y = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    scores = np.asarray(predict_fn(points), dtype=float).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, (scores > level).astype(float), levels=[-0.5, 0.5, 1.5], colors=CLASS_COLORS,
                alpha=0.15)
    if scores.min() < level < scores.max():  # a constant predictor has no boundary to draw
        ax.contour(grid_x, grid_y, scores, levels=[level], colors="black", linewidths=1.5)
    for label, color in enumerate(CLASS_COLORS):
        ax.scatter(*X[y == label].T, s=18, color=color, edgecolors="white", linewidths=0.5, label=f"y = {label}")
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax.figure


def plot_loss_curve(ax, losses, label=None, ylabel="loss", first_epoch=0, marked_epochs=()):
    """Plot one value per epoch (a loss, a count of mistakes) against the epoch; returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on; call again on the same ax to compare curves.
    - losses: shape (num_epochs,); losses[i] belongs to epoch first_epoch + i.
    - label: legend entry of this curve (no legend when None).
    - ylabel: what the values are.
    - first_epoch: number of the first epoch (0 when losses[0] is the loss before any update).
    - marked_epochs: epochs to mark with a dot, e.g. those whose decision boundary is shown.
    """
    from matplotlib.ticker import MaxNLocator

    losses = np.asarray(losses, dtype=float)
    epochs = first_epoch + np.arange(len(losses))
    (line,) = ax.plot(epochs, losses, label=label)
    marked = np.asarray(marked_epochs, dtype=int)
    if marked.size:
        ax.plot(marked, losses[marked - first_epoch], "o", color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if np.array_equal(losses, np.round(losses)):  # counts, e.g. mistakes per epoch
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if label is not None:
        ax.legend()
    return ax.figure


def plot_weight_image(ax, weights, title=None):
    """Show weights (H, W) as an image, positive red, negative blue, zero white, with a colour bar; returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - weights: shape (H, W), e.g. a neuron's 64 input weights reshaped to the 8x8 image they multiply.
    - title: optional title of ax.
    """
    weights = np.asarray(weights, dtype=float)
    bound = np.abs(weights).max() or 1.0
    image = ax.imshow(weights, cmap="RdBu_r", vmin=-bound, vmax=bound)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax.figure


# ---------------------------------------------------------------------------------------------------------
# Convolutions (module 03): small matrices with their numbers, and banks of kernels.
# ---------------------------------------------------------------------------------------------------------

HIGHLIGHT_COLOR = "tab:red"


def show_matrix(ax, values, title=None, highlight=None, cmap="Blues", fmt="{:g}", vmin=None, vmax=None):
    """Draw a small matrix as coloured cells with its numbers written in them; returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - values: shape (H, W), e.g. an image patch, a kernel or a feature map.
    - title: optional title of ax.
    - highlight: optional (row, col, height, width) of a block to outline, e.g. the window under the kernel.
    - cmap, vmin, vmax: colours of the cells (vmin / vmax default to the values' range).
    - fmt: format of the numbers.
    """
    from matplotlib.patches import Rectangle

    values = np.asarray(values, dtype=float)
    low = values.min() if vmin is None else vmin
    high = values.max() if vmax is None else vmax
    shown = ax.imshow(values, cmap=cmap, vmin=low, vmax=high if high > low else low + 1)
    for (row, col), value in np.ndenumerate(values):
        red, green, blue, _ = shown.cmap(shown.norm(value))
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
        ax.text(col, row, fmt.format(value), ha="center", va="center", fontsize=9, color="white" if dark else "black")
    if highlight is not None:
        row, col, height, width = highlight
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), width, height, fill=False, edgecolor=HIGHLIGHT_COLOR,
                               linewidth=2.5))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def show_filters(filters, titles=None, nrows=None, ncols=None, cell_size=1.3, suptitle=None, shared_scale=False):
    """Grid of kernels (N, kh, kw): positive red, negative blue, zero white; returns the Figure.

    Each kernel is drawn on its own scale, or, with shared_scale, all on one scale with a colour bar (to
    compare strengths, e.g. random against trained filters).

    Inputs:
    - filters: shape (N, kh, kw), e.g. hand-made kernels or a Conv2D layer's weights moved to the front
      (np.moveaxis(W[:, :, 0, :], -1, 0) for W of shape (kh, kw, 1, N)).
    - titles: optional, one per kernel.
    - nrows, ncols: grid size (completed from the number of kernels when None).
    - cell_size: inches per kernel.
    - suptitle: optional title of the figure.
    - shared_scale: one colour scale for every kernel, shown by a colour bar.
    """
    filters = np.asarray(filters, dtype=float)
    shared_bound = np.abs(filters).max() or 1.0
    nrows, ncols = grid_shape(len(filters), nrows, ncols)
    figure = new_figure(figsize=(ncols * cell_size, nrows * cell_size + (0.4 if suptitle else 0)), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= len(filters):
            ax.set_frame_on(False)
            continue
        bound = shared_bound if shared_scale else np.abs(filters[index]).max() or 1.0
        image = ax.imshow(filters[index], cmap="RdBu_r", vmin=-bound, vmax=bound)
        if titles is not None and index < len(titles):
            ax.set_title(str(titles[index]), fontsize=8)
    if shared_scale:
        figure.colorbar(image, ax=axes, shrink=0.8, label="weight")
    if suptitle:
        figure.suptitle(suptitle)
    return figure


# ---------------------------------------------------------------------------------------------------------
# Pooling and receptive fields (module 04): feature maps stage by stage, and the squares units see.
# ---------------------------------------------------------------------------------------------------------

def show_feature_maps(stages, titles=None, cell_size=1.8, suptitle=None):
    """Feature maps after each stage of a network, one row per stage and one column per map: a Figure.

    Inputs:
    - stages: dict {stage name: maps of shape (H, W, F)}, e.g. {"conv": ..., "ReLU": ..., "max pool": ...};
      H and W may shrink from stage to stage, F is the same in all.
    - titles: optional names of the F maps (column titles).
    - cell_size: inches per map.
    - suptitle: optional title of the figure.
    Each column shares one colour scale, symmetric around 0 (negative blue, zero white, positive red), so
    what a stage removes (ReLU: the blue) or coarsens (pooling: the detail) is visible.
    """
    names, maps = list(stages), [np.asarray(value, dtype=float) for value in stages.values()]
    count = maps[0].shape[-1]
    bounds = np.max([np.abs(m).max(axis=(0, 1)) for m in maps], axis=0)
    figure = new_figure(figsize=(count * cell_size, len(names) * cell_size + (0.4 if suptitle else 0)),
                    layout="constrained")
    axes = figure.subplots(len(names), count, squeeze=False)
    for row, (name, stage) in enumerate(zip(names, maps)):
        for col, ax in enumerate(axes[row]):
            bound = bounds[col] or 1.0
            ax.imshow(stage[:, :, col], cmap="RdBu_r", vmin=-bound, vmax=bound)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0 and titles is not None:
                ax.set_title(str(titles[col]), fontsize=9)
        axes[row, 0].set_ylabel(f"{name}\n{stage.shape[0]}x{stage.shape[1]}", fontsize=9)
    if suptitle:
        figure.suptitle(suptitle)
    return figure


def plot_receptive_fields(ax, image, sizes, center=None, labels=None):
    """Draw an image (H, W) or (H, W, 3) with nested squares: what one unit of each layer sees; returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - image: the input image, float in [0, 1] or uint8.
    - sizes: receptive field sizes in input pixels, one square each, centred on the same pixel.
    - center: (row, col) of that pixel; the middle of the image when None.
    - labels: optional legend entries, one per size.
    """
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    image = np.asarray(image)
    show_one(ax, image, "gray")
    row, col = (image.shape[0] // 2, image.shape[1] // 2) if center is None else center
    colors = colormaps["viridis"](np.linspace(0, 0.9, len(sizes)))
    for index, (size, color) in enumerate(zip(sizes, colors)):
        label = labels[index] if labels is not None else f"{size} x {size}"
        ax.add_patch(Rectangle((col - size / 2, row - size / 2), size, size, fill=False, edgecolor=color,
                               linewidth=2, label=label))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    return ax.figure


# ---------------------------------------------------------------------------------------------------------
# Backpropagation (module 02): a network as a chain of layers, values forward and gradients backward.
# ---------------------------------------------------------------------------------------------------------

GRADIENT_COLOR = "tab:red"


def plot_layer_chain(ax, layers, values, gradients, params=None):
    """Draw layers as a chain of boxes, values flowing right above the arrows and gradients left below them.

    Returns the Figure of ax.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - layers: names of the layers from input to loss, e.g. ["dense", "ReLU", "dense", "softmax\\ncross-entropy"].
    - values: len(layers) + 1 labels of what enters the first layer and leaves each layer,
      e.g. ["X", "h", "a", "z", "L"].
    - gradients: len(layers) + 1 labels of the gradients of the loss with respect to those values,
      e.g. ["dX", "dh", "da", "dz", "1"].
    - params: optional {layer index: (parameter label, gradient label)}, e.g. {0: ("W1, b1", "dW1, db1")}: the
      parameters enter the layer from above, their gradients leave it below (none drawn for a gradient label
      None, e.g. for the labels y entering the loss).
    """
    from matplotlib.patches import FancyBboxPatch

    if not len(values) == len(gradients) == len(layers) + 1:
        raise ValueError(f"{len(layers)} layers need {len(layers) + 1} values and gradients, "
                         f"got {len(values)} and {len(gradients)}.")
    width, gap, height = 1.6, 1.4, 1.0
    lefts = [gap + i * (width + gap) for i in range(len(layers))]
    arrow_ends = [(left - gap, left) for left in lefts] + [(lefts[-1] + width, lefts[-1] + width + gap)]
    for left, name in zip(lefts, layers):
        ax.add_patch(FancyBboxPatch((left, -height / 2), width, height, boxstyle="round,pad=0.05",
                                    facecolor="whitesmoke", edgecolor="black"))
        ax.text(left + width / 2, 0, name, ha="center", va="center", fontsize=10)
    for (start, end), value, gradient in zip(arrow_ends, values, gradients):
        _arrow(ax, (start, 0.18), (end, 0.18), "black")
        _arrow(ax, (end, -0.18), (start, -0.18), GRADIENT_COLOR)
        ax.text((start + end) / 2, 0.3, value, ha="center", va="bottom", fontsize=11)
        ax.text((start + end) / 2, -0.3, gradient, ha="center", va="top", fontsize=11, color=GRADIENT_COLOR)
    for index, (param, gradient) in (params or {}).items():
        middle = lefts[index] + width / 2
        _arrow(ax, (middle - 0.3, 1.3), (middle - 0.3, height / 2 + 0.08), "black")
        ax.text(middle - 0.3, 1.35, param, ha="center", va="bottom", fontsize=10)
        if gradient:
            _arrow(ax, (middle + 0.3, -height / 2 - 0.08), (middle + 0.3, -1.3), GRADIENT_COLOR)
            ax.text(middle + 0.3, -1.35, gradient, ha="center", va="top", fontsize=10, color=GRADIENT_COLOR)
    ax.set_xlim(-0.2, arrow_ends[-1][1] + 0.2)
    ax.set_ylim(-1.9, 1.9)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax.figure


def _arrow(ax, start, end, color) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="-|>", color=color, linewidth=1.5,
                                                          shrinkA=0, shrinkB=0))


# ---------------------------------------------------------------------------------------------------------
# Architectures (module 05): where a network's parameters sit.
# ---------------------------------------------------------------------------------------------------------

LAYER_KIND_COLORS = {"Conv2D": "tab:blue", "Dense": "tab:orange", "BatchNormalization": "tab:gray"}


def plot_parameter_bars(ax, counts, kinds, title=None, total=None):
    """Bar chart of the parameters of each layer, coloured by layer type, on a log scale; returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - counts: parameters per layer in network order, shape (L,).
    - kinds: layer type of each ('Conv2D', 'Dense' ...); the legend gives each type's total and share.
    - title: optional title of ax.
    - total: the network's parameter count the shares refer to (default: the sum of counts).
    """
    from matplotlib.ticker import MaxNLocator

    counts, kinds = np.asarray(counts, dtype=float), list(kinds)
    total = total or counts.sum() or 1.0
    positions = np.arange(1, len(counts) + 1)
    for kind in dict.fromkeys(kinds):
        mine = np.array([k == kind for k in kinds])
        share = counts[mine].sum()
        ax.bar(positions[mine], counts[mine], color=LAYER_KIND_COLORS.get(kind, "tab:purple"),
               label=f"{kind}: {share:,.0f} ({share / total:.1%})")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer (in network order)")
    ax.set_ylabel("parameters")
    ax.legend(fontsize=8, loc="upper left")
    if title:
        ax.set_title(title)
    return ax.figure


BLOCK_COLORS = {"input": "tab:gray", "conv": "tab:blue", "pool": "tab:green", "residual": "tab:purple",
                "dense": "tab:orange", "norm": "tab:brown"}
# The four classic networks block by block (repeated layers drawn once, "n x"), for draw_architectures.
CLASSIC_ARCHITECTURES = {
    "LeNet-5": [("input", "32x32x1"), ("conv", "5x5, 6"), ("pool", "avg 2x2"), ("conv", "5x5, 16"),
                ("pool", "avg 2x2"), ("dense", "120"), ("dense", "84"), ("dense", "10")],
    "AlexNet": [("input", "227x227x3"), ("conv", "11x11/4, 96"), ("pool", "max 3/2"), ("conv", "5x5, 256"),
                ("pool", "max 3/2"), ("conv", "3x3, 384"), ("conv", "3x3, 384"), ("conv", "3x3, 256"),
                ("pool", "max 3/2"), ("dense", "4096"), ("dense", "4096"), ("dense", "1000")],
    "VGG-19": [("input", "224x224x3"), ("conv", "2 x 3x3, 64"), ("pool", "max 2x2"), ("conv", "2 x 3x3, 128"),
               ("pool", "max 2x2"), ("conv", "4 x 3x3, 256"), ("pool", "max 2x2"), ("conv", "4 x 3x3, 512"),
               ("pool", "max 2x2"), ("conv", "4 x 3x3, 512"), ("pool", "max 2x2"), ("dense", "2 x 4096"),
               ("dense", "1000")],
    "ResNet-34": [("input", "224x224x3"), ("conv", "7x7/2, 64"), ("pool", "max 3/2"), ("residual", "3 x block 64"),
                  ("residual", "4 x block 128"), ("residual", "6 x block 256"), ("residual", "3 x block 512"),
                  ("pool", "global avg"), ("dense", "1000")],
}


def draw_architectures(ax, networks=None):
    """The block diagrams of several networks, one row each, input on the left; returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - networks: {name: [(kind, label), ...]} with kind one of BLOCK_COLORS' keys and label the text in the
      block, e.g. {"LeNet-5": [("conv", "5x5, 6"), ...]}; default CLASSIC_ARCHITECTURES.
    """
    from matplotlib.patches import FancyBboxPatch, Patch

    networks = networks or CLASSIC_ARCHITECTURES
    used = {kind for blocks in networks.values() for kind, _ in blocks}
    width = max(len(blocks) for blocks in networks.values())
    for row, (name, blocks) in enumerate(networks.items()):
        y = -row
        ax.text(-0.3, y, name, ha="right", va="center", fontsize=10, fontweight="bold")
        for column, (kind, label) in enumerate(blocks):
            ax.add_patch(FancyBboxPatch((column + 0.06, y - 0.3), 0.88, 0.6, boxstyle="round,pad=0.02",
                                        facecolor=BLOCK_COLORS[kind], alpha=0.3, edgecolor=BLOCK_COLORS[kind]))
            ax.text(column + 0.5, y, label, ha="center", va="center", fontsize=7)
            if column:
                _arrow(ax, (column - 0.06, y), (column + 0.06, y), "black")
    ax.set_xlim(-2.2, width + 0.2)
    ax.set_ylim(-len(networks) + 0.4, 0.6)
    ax.set_axis_off()
    legend = [Patch(facecolor=c, alpha=0.3, edgecolor=c, label=k) for k, c in BLOCK_COLORS.items() if k in used]
    ax.legend(handles=legend, loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=len(legend), fontsize=8)
    return ax.figure


def draw_residual_block(ax, shortcut="identity"):
    """A residual block, y = ReLU(F(x) + x): conv-BN-ReLU-conv-BN on the main path, the shortcut around it;
    returns the Figure.

    Inputs:
    - ax: the matplotlib Axes to draw on.
    - shortcut: the shortcut's label ('identity', or e.g. '1x1 conv, stride 2' when the shape changes).
    """
    from matplotlib.patches import FancyBboxPatch

    steps = ["x", "3x3 conv", "BatchNorm", "ReLU", "3x3 conv", "BatchNorm", "+", "ReLU", "y"]
    for index, step in enumerate(steps):
        kind = "conv" if "conv" in step else "norm" if step == "BatchNorm" else None
        if kind:
            ax.add_patch(FancyBboxPatch((index - 0.4, -0.25), 0.8, 0.5, boxstyle="round,pad=0.02",
                                        facecolor=BLOCK_COLORS[kind], alpha=0.3, edgecolor=BLOCK_COLORS[kind]))
        ax.text(index, 0, step, ha="center", va="center", fontsize=14 if step in ("+", "x", "y") else 9)
        if index:
            _arrow(ax, (index - 0.6, 0), (index - 0.4, 0), "black")
    plus = steps.index("+")
    color = BLOCK_COLORS["residual"]
    ax.plot([0, 0, plus], [0.2, 0.8, 0.8], color=color, linewidth=2)
    _arrow(ax, (plus, 0.8), (plus, 0.22), color)
    ax.text(plus / 2, 0.9, f"shortcut: {shortcut}", ha="center", color=color, fontsize=10)
    ax.text(plus / 2, -0.55, "F(x): the residual the block learns", ha="center", fontsize=9)
    ax.set_xlim(-0.6, len(steps) - 0.4)
    ax.set_ylim(-0.9, 1.5)
    ax.set_axis_off()
    return ax.figure
