"""Transfer learning with a pretrained backbone: the reference recipe of module 06 and the lecture's experiments.

The recipe (Keras' own transfer-learning guide, in Keras 3): freeze the base, call it with training=False,
global average pooling, dropout, a new Dense head; train the head; then make the top layers of the base
trainable, keep every BatchNormalization layer frozen, recompile with a 10x lower learning rate and train a
little more. In Keras 3 a frozen BatchNormalization layer always runs in inference mode, while the
``training=False`` given when the base is called only applies when the whole model is called without a
training argument (``fit`` passes ``training=True`` through it): the frozen BN layers are what protects the
moving statistics during fine-tuning.
"""
from __future__ import annotations

import warnings

import numpy as np

from .backend import keras_module as _keras

FINE_TUNE_DIVISOR = 10


def transfer_model(backbone, num_classes, dropout=0.2):
    """Frozen backbone (called with training=False) -> global average pooling -> dropout -> Dense softmax head.

    backbone: a Keras model, images (N, H, W, 3) -> feature map (N, h, w, C). Returns a functional model
    images (N, H, W, 3) -> (N, num_classes) probabilities; only the head's C * K + K parameters train.
    """
    keras = _keras()
    backbone.trainable = False
    inputs = keras.Input(shape=backbone.input_shape[1:], name="images")
    x = backbone(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="transfer")


def base_of(model):
    """The nested backbone of a transfer model: its first layer that is itself a keras.Model."""
    keras = _keras()
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not nested:
        raise ValueError("the model has no nested backbone (a keras.Model among its layers)")
    return nested[0]


def unfreeze_top_layers(model, n_layers, keep_batchnorm_frozen=True):
    """Make the top n_layers of the base trainable (BatchNormalization kept frozen unless told); returns model."""
    keras = _keras()
    base = base_of(model)
    base.trainable = True
    cut = len(base.layers) - n_layers
    for index, layer in enumerate(base.layers):
        frozen_bn = keep_batchnorm_frozen and isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = index >= cut and not frozen_bn
    return model


def compile_classifier(model, learning_rate):
    """Adam at learning_rate, sparse categorical cross-entropy on probabilities, accuracy."""
    keras = _keras()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def pooled_features(backbone, images, batch_size=64) -> np.ndarray:
    """Global-average-pooled features of images (N, H, W, 3), batch_size at a time, inference mode: (N, C) float32."""
    keras = _keras()
    batches = [keras.ops.convert_to_numpy(backbone(images[start:start + batch_size], training=False))
               for start in range(0, len(images), batch_size)]
    return np.concatenate([batch.mean(axis=(1, 2)) for batch in batches]).astype(np.float32)


def trainable_counts(model) -> tuple[int, list[int]]:
    """How many trainable variables the head has (outside the base), and each layer of the base (list)."""
    trainable = {id(variable) for variable in model.trainable_weights}
    base = base_of(model)
    per_layer = [sum(id(w) in trainable for w in layer.weights) for layer in base.layers]
    head = sum(id(w) in trainable for layer in model.layers if layer is not base for w in layer.weights)
    return head, per_layer


PATCH_PHOTOS = ("astronaut", "brick", "chelsea", "coffee", "flower", "grass", "motorcycle", "rocket")


def photo_patches(per_class, size=64, names=PATCH_PHOTOS, half="top", seed=0):
    """Random square crops of the bundled photos, labelled by photo: (N, size, size, 3) float32 in [0, 1], (N,).

    Crops of a quarter to a half of the photo's height are taken from its top or bottom half (half='top' |
    'bottom'), so that a task trained on one half is judged on patches it has never seen, and resized to size.
    """
    from skimage.transform import resize

    from dlcourse.datasets import load_photos

    rng = np.random.default_rng((6, seed, half == "top"))
    images, labels = [], []
    for label, photo in enumerate(load_photos(names).values()):
        height, width = photo.shape[:2]
        rows = (0, height // 2) if half == "top" else (height // 2, height)
        for _ in range(per_class):
            side = int(rng.integers(height // 4, height // 2 + 1))
            top = int(rng.integers(rows[0], max(rows[0] + 1, rows[1] - side // 2)))
            top = min(top, height - side)
            left = int(rng.integers(0, width - side + 1))
            crop = photo[top:top + side, left:left + side]
            images.append(resize(crop, (size, size), anti_aliasing=True).astype(np.float32))
            labels.append(label)
    order = rng.permutation(len(labels))
    return np.stack(images)[order], np.array(labels, np.int64)[order]


# ---------------------------------------------------------------------------------------------------------
# The lecture's and the benchmark's experiments: ImageNet features vs random features vs scratch vs fine-tuning
# ---------------------------------------------------------------------------------------------------------

LABEL_BUDGETS = (5, 10, 20, 50)
PROBE_ITERATIONS = 300
TOP_INPUT_LAYER = "block15_project_bn"  # the last block's output: what the top layers of Lite0 read


def per_class_subset(labels, per_class, seed) -> np.ndarray:
    """Indices of per_class examples of every class in labels (N,), drawn with seed, in random order."""
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)]
    return rng.permutation(np.concatenate(chosen))


def probe_accuracy(train_features, y_train, test_features, y_test, strength=0.1) -> float:
    """Test accuracy of a logistic regression (standardised features, C=strength, at most PROBE_ITERATIONS
    L-BFGS iterations) on frozen features (N, D)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from threadpoolctl import threadpool_limits

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=PROBE_ITERATIONS))
    # one BLAS thread: a problem this small is 20x slower when OpenBLAS threads compete with TensorFlow's
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # a capped probe is still a probe; the cap is stated
        return float(probe.fit(train_features, y_train).score(test_features, y_test))


def small_cnn(input_shape, num_classes):
    """The from-scratch baseline: 3 conv blocks (16, 32, 64 filters, BN, ReLU, max pooling), GAP, softmax.

    BN momentum 0.9 (Keras' default is 0.99): with the default, a hundred steps leave the moving statistics
    mostly at their initial values and the trained network predicts one class at test time.
    """
    keras = _keras()
    layers = keras.layers
    stack = [keras.Input(shape=input_shape)]
    for filters in (16, 32, 64):
        stack += [layers.Conv2D(filters, 3, padding="same", use_bias=False), layers.BatchNormalization(momentum=0.9),
                  layers.ReLU(), layers.MaxPooling2D(2)]
    stack += [layers.GlobalAveragePooling2D(), layers.Dense(num_classes, activation="softmax")]
    return keras.Sequential(stack, name="scratch_cnn")


def fit_steps(model, x, y, steps, learning_rate, batch_size=16):
    """Train a compiled-here model (Adam, sparse cross-entropy) for about `steps` gradient steps; returns it."""
    epochs = max(1, round(steps * batch_size / len(x)))
    compile_classifier(model, learning_rate)
    model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model


def scratch_accuracy(x_train, y_train, x_test, y_test, seed, steps=150) -> float:
    """Test accuracy of small_cnn trained from random weights on (x_train, y_train)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = fit_steps(small_cnn(x_train.shape[1:], int(y_train.max()) + 1), x_train, y_train, steps, 3e-3)
    return float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))


def top_inputs(backbone, images, batch_size=128) -> np.ndarray:
    """What Lite0's top layers read (the last block's output, (N, h, w, 320)), computed once per image."""
    keras = _keras()
    lower = keras.Model(backbone.input, backbone.get_layer(TOP_INPUT_LAYER).output)
    return np.concatenate([keras.ops.convert_to_numpy(lower(images[i:i + batch_size], training=False))
                           for i in range(0, len(images), batch_size)])


MID_LEVEL_LAYERS = ("block4_add", "block6_add", "block7_add", "block9_add", "block10_add")  # strides 8 and 16


def pooled_layer_features(backbone, images, layer_names=MID_LEVEL_LAYERS, batch_size=128) -> np.ndarray:
    """The named layers' outputs for images (N, H, W, 3), each global-average pooled, side by side: (N, sum C)."""
    keras = _keras()
    probe = keras.Model(backbone.input, [backbone.get_layer(name).output for name in layer_names])
    batches = []
    for start in range(0, len(images), batch_size):
        outputs = probe(images[start:start + batch_size], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        batches.append(np.concatenate([keras.ops.convert_to_numpy(keras.ops.mean(out, axis=(1, 2)))
                                       for out in outputs], axis=1))
    return np.concatenate(batches).astype(np.float32)


def task_features(backbone, task, layer_names=MID_LEVEL_LAYERS) -> dict:
    """pooled_layer_features of a task's x_train and x_test: {'train': (N, D), 'test': (M, D)}."""
    return {part: pooled_layer_features(backbone, task[f"x_{part}"], layer_names) for part in ("train", "test")}


def frozen_top_features(backbone, cached) -> np.ndarray:
    """The backbone's pooled features (N, 1280) computed from its cached top_inputs (N, h, w, 320)."""
    keras = _keras()
    top = [backbone.get_layer(name) for name in ("top_conv", "top_bn", "top_activation")]
    x = cached
    for layer in top:
        x = layer(x, training=False)
    return keras.ops.convert_to_numpy(keras.ops.mean(x, axis=(1, 2))).astype(np.float32)


def top_model(backbone, num_classes, batchnorm_trainable=False, dropout=0.2):
    """Lite0's top (1x1 conv to 1280, BN, ReLU6) with its ImageNet weights, plus GAP, dropout and a new head.

    It reads top_inputs() of the backbone: fine-tuning these top layers on cached inputs is exactly fine-tuning
    the top of the full network with everything below frozen (and no augmentation), at a fraction of the cost.
    """
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input(shape=backbone.get_layer(TOP_INPUT_LAYER).output.shape[1:])
    conv = layers.Conv2D(1280, 1, use_bias=False, name="top_conv")
    norm = layers.BatchNormalization(epsilon=1e-3, name="top_bn")
    x = layers.ReLU(6.0)(norm(conv(inputs)))
    x = layers.Dropout(dropout)(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, layers.Dense(num_classes, activation="softmax", name="head")(x))
    conv.set_weights(backbone.get_layer("top_conv").get_weights())
    norm.set_weights(backbone.get_layer("top_bn").get_weights())
    conv.trainable, norm.trainable = False, False
    model.fine_tune_layers = (conv, norm) if batchnorm_trainable else (conv,)
    return model


def fine_tune_top(backbone, cached_train, y_train, seed, head_steps=150, tune_steps=60, learning_rate=1e-3,
                  batchnorm_trainable=False):
    """Train the head on the frozen top, then unfreeze the 1x1 conv (and BN if told) at learning_rate / 10."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = top_model(backbone, int(y_train.max()) + 1, batchnorm_trainable)
    fit_steps(model, cached_train, y_train, head_steps, learning_rate)
    for layer in model.fine_tune_layers:
        layer.trainable = True
    return fit_steps(model, cached_train, y_train, tune_steps, learning_rate / FINE_TUNE_DIVISOR)


def accuracy_of(model, x, y) -> float:
    """Fraction of x whose most probable class is y."""
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def budget_table(task, imagenet, random=None, scratch_size=32, budgets=LABEL_BUDGETS, seeds=(0, 1), backbone=None,
                 scratch_steps=150, scratch_budgets=None, fine_tune_budgets=None, more_features=None):
    """Test accuracy per method, budget and seed: {method: array (len(budgets), len(seeds))}, NaN where not run
    (a method run at no budget is left out).

    task: dict with x_train, y_train, x_test, y_test (images in [0, 1]); imagenet / random: pooled features of
    the train and test images ({'train': (N, D), 'test': (M, D)}) from the pretrained and (optional) the random
    backbone; more_features: {method: features} probed the same way; backbone plus task['top_train'] /
    task['top_test'] (top_inputs) add the fine-tuned method. The probes run at every budget; the scratch CNN
    and fine-tuning (seconds each) only at scratch_budgets / fine_tune_budgets (None: every budget).
    """
    from skimage.transform import resize

    small = {part: np.stack([resize(image, (scratch_size, scratch_size), anti_aliasing=True)
                             for image in task[f"x_{part}"]]).astype(np.float32) for part in ("train", "test")}
    probed = {"ImageNet features": imagenet, **({"random features": random} if random is not None else {}),
              **(more_features or {})}
    methods = list(probed) + ["scratch CNN"] + (["fine-tuned top"] if backbone is not None else [])
    table = {method: np.full((len(budgets), len(seeds)), np.nan) for method in methods}
    y_train, y_test = task["y_train"], task["y_test"]
    for i, budget in enumerate(budgets):
        for j, seed in enumerate(seeds):
            pick = per_class_subset(y_train, budget, seed)
            for method, features in probed.items():
                table[method][i, j] = probe_accuracy(features["train"][pick], y_train[pick], features["test"], y_test)
            if scratch_budgets is None or budget in scratch_budgets:
                table["scratch CNN"][i, j] = scratch_accuracy(small["train"][pick], y_train[pick], small["test"],
                                                              y_test, seed, scratch_steps)
            if backbone is not None and (fine_tune_budgets is None or budget in fine_tune_budgets):
                model = fine_tune_top(backbone, task["top_train"][pick], y_train[pick], seed)
                table["fine-tuned top"][i, j] = accuracy_of(model, task["top_test"], y_test)
    return {method: scores for method, scores in table.items() if not np.isnan(scores).all()}


def plot_budget_tables(tables, budgets=LABEL_BUDGETS, chance=None):
    """One panel per task: median accuracy per method against labels per class, the band from min to max seed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tables), figsize=(5 * len(tables), 3.6), squeeze=False)
    for ax, (task, table) in zip(axes[0], tables.items()):
        for method, scores in table.items():
            run = ~np.isnan(scores).all(axis=1)
            at, scores = np.asarray(budgets)[run], scores[run]
            median, low, high = np.median(scores, axis=1), scores.min(axis=1), scores.max(axis=1)
            if run.sum() > 1:
                line, = ax.plot(at, median, "o-", label=method)
                ax.fill_between(at, low, high, color=line.get_color(), alpha=0.2)
            else:  # a method run at one budget only: its median and seed range as an error bar
                ax.errorbar(at, median, yerr=[median - low, high - median], fmt="s", capsize=4, label=method)
        if chance and task in chance:
            ax.axhline(chance[task], color="grey", linestyle=":", label="chance")
        ax.set(xscale="log", xticks=budgets, xticklabels=[str(b) for b in budgets], xlabel="labels per class",
               ylabel="test accuracy", title=task)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def format_budget_table(table, budgets=LABEL_BUDGETS) -> str:
    """One line per method: median test accuracy [min-max over seeds] at each budget, '-' where not run."""
    def cell(scores):
        if np.isnan(scores).all():
            return f"{'-':>17s}"
        return f"{np.median(scores):.2f} [{scores.min():.2f}-{scores.max():.2f}]".rjust(17)
    header = f"{'labels per class':20s}" + "".join(f"{b:>17d}" for b in budgets)
    return "\n".join([header] + [f"{method:20s}" + "".join(cell(row) for row in scores)
                                  for method, scores in table.items()])


def batchnorm_drift(backbone, cached_train, y_train, cached_test, y_test, seeds=(0, 1, 2)):
    """The BatchNorm pitfall, measured: fine-tune the top with its BN frozen vs trainable (training mode in fit).

    Returns {setting: dict(accuracy=(S,), mean_shift=(S,), var_shift=(S,))}: test accuracy, and how far the BN
    layer's moving mean and variance moved from ImageNet's (mean absolute change, relative to ImageNet's spread).
    """
    imagenet_mean, imagenet_var = backbone.get_layer("top_bn").get_weights()[2:]
    spread = float(np.sqrt(imagenet_var).mean())
    results = {}
    for label, trainable in (("BN frozen (inference mode)", False), ("BN trainable (training mode)", True)):
        scores = {"accuracy": [], "mean_shift": [], "var_shift": []}
        for seed in seeds:
            model = fine_tune_top(backbone, cached_train, y_train, seed, batchnorm_trainable=trainable,
                                  tune_steps=100)
            mean, var = model.get_layer("top_bn").get_weights()[2:]
            scores["accuracy"].append(accuracy_of(model, cached_test, y_test))
            scores["mean_shift"].append(float(np.abs(mean - imagenet_mean).mean()) / spread)
            scores["var_shift"].append(float(np.abs(var - imagenet_var).mean() / imagenet_var.mean()))
        results[label] = {key: np.array(value) for key, value in scores.items()}
    return results


def show_first_layer_filters(backbone, columns=16):
    """The 32 3x3 RGB filters of the stem convolution, each scaled to [0, 1] on its own."""
    import matplotlib.pyplot as plt

    kernels = backbone.get_layer("stem_conv").get_weights()[0]  # (3, 3, 3, 32)
    rows = int(np.ceil(kernels.shape[-1] / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.6, rows * 0.6))
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index < kernels.shape[-1]:
            kernel = kernels[..., index]
            ax.imshow((kernel - kernel.min()) / (np.ptp(kernel) + 1e-12), interpolation="nearest")
    fig.suptitle("EfficientNet-Lite0's first-layer filters (3x3, RGB)")
    return fig


def show_feature_maps(backbone, image, layer_names, count=8):
    """The first count channels of each named layer's output for one image (H, W, 3) in [0, 1]."""
    import matplotlib.pyplot as plt

    keras = _keras()
    probe = keras.Model(backbone.input, [backbone.get_layer(name).output for name in layer_names])
    maps = probe(image[None], training=False)
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    fig, axes = plt.subplots(len(layer_names), count + 1, figsize=(1.3 * (count + 1), 1.4 * len(layer_names)))
    for row, (name, output) in enumerate(zip(layer_names, maps)):
        output = keras.ops.convert_to_numpy(output)[0]
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(name, fontsize=7)
        for column in range(count):
            axes[row, column + 1].imshow(output[..., column], cmap="viridis")
        for ax in axes[row]:
            ax.axis("off")
    fig.tight_layout()
    return fig


def show_top_k(images, top, titles=None):
    """Each image beside a bar chart of its top-k ImageNet classes: top from decode_top_k."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(images), 2, figsize=(8, 2.4 * len(images)), gridspec_kw={"width_ratios": [1, 2]})
    axes = np.atleast_2d(axes)
    for row, (image, guesses) in enumerate(zip(images, top)):
        axes[row, 0].imshow(image)
        axes[row, 0].axis("off")
        if titles:
            axes[row, 0].set_title(titles[row], fontsize=9)
        names = [f"{name} ({index})" for index, name, _ in guesses][::-1]
        axes[row, 1].barh(names, [p for _, _, p in guesses][::-1])
        axes[row, 1].set(xlim=(0, 1), xlabel="probability")
    fig.tight_layout()
    return fig
