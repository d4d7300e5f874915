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

import contextlib
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


PROBE_STRENGTH = 0.1  # the probe's logistic C where none is chosen by cross-validation
STRENGTH_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # logistic C values tried by cross_validated_strength


@contextlib.contextmanager
def quiet_single_thread():
    """One BLAS thread (a problem this small is 20x slower when OpenBLAS threads compete with TensorFlow's) and no
    ConvergenceWarning (a capped probe is still a probe; the cap is stated)."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def probe(strength=PROBE_STRENGTH, max_iter=PROBE_ITERATIONS):
    """An unfitted logistic-regression probe: standardised features, C=strength, at most max_iter L-BFGS iterations."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=max_iter))


def probe_accuracy(train_features, y_train, test_features, y_test, strength=PROBE_STRENGTH) -> float:
    """Test accuracy of a probe (logistic regression on standardised features, C=strength) fitted on frozen
    features train_features (N, D) and judged on test_features (M, D)."""
    with quiet_single_thread():
        return float(probe(strength).fit(train_features, y_train).score(test_features, y_test))


def cross_validated_strength(features, labels, groups, grid=STRENGTH_GRID, folds=5,
                             max_iter=PROBE_ITERATIONS) -> tuple[float, float]:
    """(C, accuracy): the probe's C of grid with the best mean accuracy over `folds` folds of (features (N, D),
    labels (N,)) split by groups (N,), e.g. the photo each image comes from, so that no group is in two folds."""
    from sklearn.model_selection import GroupKFold, cross_val_score

    if len(set(np.asarray(groups).tolist())) < folds:
        raise ValueError(f"cross-validation over {folds} folds needs at least {folds} groups (photos); "
                         f"these features come from {len(set(np.asarray(groups).tolist()))}")
    with quiet_single_thread():
        scores = {C: cross_val_score(probe(C, max_iter), features, labels, groups=groups, cv=GroupKFold(folds)).mean()
                  for C in grid}
    best = max(scores, key=scores.get)
    return best, float(scores[best])


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


def fit_steps(model, x, y, steps, learning_rate, batch_size=16, seed=0, augment=False):
    """Compile model here (Adam, sparse cross-entropy) and train it for `steps` gradient steps on batches of
    batch_size examples of (x, y), reshuffled (seed) on every pass; returns the model. augment: each batch is
    seen in a random one of its 8 mirror and quarter-turn views (dihedral_view; square images whose label does
    not depend on orientation, e.g. their quality).

    The steps run as one Keras epoch: with 10 labelled images, 150 steps would otherwise be 240 epochs, and
    Keras' per-epoch bookkeeping would cost more than the training.
    """
    compile_classifier(model, learning_rate)
    rng = np.random.default_rng(seed)
    passes = -(-steps * batch_size // len(x))
    order = np.concatenate([rng.permutation(len(x)) for _ in range(passes)])

    def batches():
        for start in range(0, steps * batch_size, batch_size):
            rows = order[start:start + batch_size]
            yield (dihedral_view(x[rows], rng) if augment else x[rows]), y[rows]
    model.fit(batches(), steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return model


def dihedral_view(images, rng) -> np.ndarray:
    """A batch of square images (B, H, H, C) mirrored left-right with probability 1/2, then turned by a random
    multiple of 90 degrees (the whole batch alike): (B, H, H, C), a contiguous copy."""
    if rng.random() < 0.5:
        images = images[:, :, ::-1]
    return np.ascontiguousarray(np.rot90(images, k=int(rng.integers(4)), axes=(1, 2)))


def scratch_accuracy(x_train, y_train, x_test, y_test, seed, steps=150, augment=False) -> float:
    """Test accuracy of small_cnn trained from random weights on (x_train, y_train) (fit_steps' augment)."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = fit_steps(small_cnn(x_train.shape[1:], int(y_train.max()) + 1), x_train, y_train, steps, 3e-3, seed=seed,
                      augment=augment)
    return accuracy_of(model, x_test, y_test)


EXTRACTION_BATCH = 64  # images in the network at once: peak memory grows with it


def layer_outputs(backbone, images, pooled=(), whole=(), batch_size=EXTRACTION_BATCH) -> tuple[dict, dict]:
    """One pass of images (N, H, W, 3) through backbone, batch_size at a time, inference mode: ({name: (N, C)}
    global-average pooled for each name in pooled, {name: (N, h, w, C)} for each name in whole), float32.

    The pass is one compiled predict (tracing it costs about as much as a few hundred 64x64 images, calling the
    network eagerly batch by batch costs more): pass every image that needs these layers at once.
    """
    keras = _keras()
    outputs = [keras.layers.GlobalAveragePooling2D()(backbone.get_layer(name).output) for name in pooled]
    outputs += [backbone.get_layer(name).output for name in whole]
    arrays = keras.Model(backbone.input, outputs).predict(images, batch_size=batch_size, verbose=0)
    arrays = [np.asarray(array, np.float32) for array in (arrays if isinstance(arrays, (list, tuple)) else [arrays])]
    return dict(zip(pooled, arrays[:len(pooled)])), dict(zip(whole, arrays[len(pooled):]))


MID_LEVEL_LAYERS = ("block4_add", "block6_add", "block7_add", "block9_add", "block10_add")  # strides 8 and 16


def tasks_features(backbone, tasks, layers, with_top_inputs=False) -> dict:
    """Frozen features of several tasks' x_train and x_test from one pass over all their images.

    tasks: {task: dict with x_train (N, H, W, 3), x_test (M, H, W, 3)}; layers: {task: layer names}, pooled and
    side by side. Returns {task: {'train': (N, D), 'test': (M, D)}}, plus 'top_train' / 'top_test' (what the top
    layers read, TOP_INPUT_LAYER's output (N, h, w, 320)) when with_top_inputs.
    """
    parts = [(task, part) for task in tasks for part in ("train", "test")]
    pooled, whole = layer_outputs(backbone, np.concatenate([tasks[task][f"x_{part}"] for task, part in parts]),
                                  pooled=list(dict.fromkeys(name for names in layers.values() for name in names)),
                                  whole=(TOP_INPUT_LAYER,) if with_top_inputs else ())
    features, start = {task: {} for task in tasks}, 0
    for task, part in parts:
        rows = slice(start, start + len(tasks[task][f"x_{part}"]))
        start = rows.stop
        features[task][part] = np.concatenate([pooled[name][rows] for name in layers[task]], axis=1)
        if with_top_inputs:
            features[task][f"top_{part}"] = whole[TOP_INPUT_LAYER][rows]
    return features


def task_features(backbone, task, layer_names=MID_LEVEL_LAYERS, with_top_inputs=False) -> dict:
    """tasks_features of one task: {'train': (N, D), 'test': (M, D)}, plus 'top_train' / 'top_test' if asked."""
    return tasks_features(backbone, {"task": task}, {"task": layer_names}, with_top_inputs)["task"]


def frozen_top_features(backbone, cached) -> np.ndarray:
    """The backbone's pooled features (N, 1280) computed from its cached TOP_INPUT_LAYER output (N, h, w, 320)."""
    keras = _keras()
    top = [backbone.get_layer(name) for name in ("top_conv", "top_bn", "top_activation")]
    x = cached
    for layer in top:
        x = layer(x, training=False)
    return keras.ops.convert_to_numpy(keras.ops.mean(x, axis=(1, 2))).astype(np.float32)


def top_model(backbone, num_classes, batchnorm_trainable=False, dropout=0.2):
    """Lite0's top (1x1 conv to 1280, BN, ReLU6) with its ImageNet weights, plus GAP, dropout and a new head.

    It reads the last block's output (TOP_INPUT_LAYER; the 'top_*' arrays of tasks_features): fine-tuning these
    top layers on cached inputs is exactly fine-tuning the top of the full network with everything below frozen
    (and no augmentation), at a fraction of the cost.
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


def fine_tune_top(backbone, cached_train, y_train, seed, head_steps=100, tune_steps=40, learning_rate=1e-3,
                  batchnorm_trainable=False):
    """Train the head on the frozen top, then unfreeze the 1x1 conv (and BN if told) at learning_rate / 10."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = top_model(backbone, int(y_train.max()) + 1, batchnorm_trainable)
    fit_steps(model, cached_train, y_train, head_steps, learning_rate, seed=seed)
    for layer in model.fine_tune_layers:
        layer.trainable = True
    return fit_steps(model, cached_train, y_train, tune_steps, learning_rate / FINE_TUNE_DIVISOR, seed=seed + 1)


def accuracy_of(model, x, y, batch_size=256) -> float:
    """Fraction of x (N, ...) whose most probable class is y (N,); the model is called batch_size at a time."""
    keras = _keras()
    predicted = [np.argmax(keras.ops.convert_to_numpy(model(x[start:start + batch_size], training=False)), axis=1)
                 for start in range(0, len(x), batch_size)]
    return float(np.mean(np.concatenate(predicted) == y))


def resized(images, size) -> np.ndarray:
    """images (N, H, W, 3) resized to (N, size, size, 3) with anti-aliasing, float32; unchanged if already so."""
    from skimage.transform import resize

    if images.shape[1:3] == (size, size):
        return images
    return np.stack([resize(image, (size, size), anti_aliasing=True) for image in images]).astype(np.float32)


def scratch_trainer(task, size=32, steps=150, min_epochs=20, augment=False):
    """train(pick, seed) -> test accuracy, for budget_table: small_cnn from random weights on the task's images
    resized to size, for max(steps, min_epochs passes over the picked images) steps of 16 (augment: fit_steps')."""
    x_train, x_test = resized(task["x_train"], size), resized(task["x_test"], size)

    def train(pick, seed):
        run = max(steps, min_epochs * len(pick) // 16)
        return scratch_accuracy(x_train[pick], task["y_train"][pick], x_test, task["y_test"], seed, run, augment)
    return train


def fine_tune_trainer(backbone, task, keep=None, **options):
    """train(pick, seed) -> test accuracy, for budget_table: fine_tune_top (options passed on) on the task's
    cached top inputs task['top_train'] / task['top_test'] (from tasks_features). keep: a dict that receives
    each trained model under (labels per class, seed)."""
    def train(pick, seed):
        y_train = task["y_train"][pick]
        model = fine_tune_top(backbone, task["top_train"][pick], y_train, seed, **options)
        if keep is not None:
            keep[len(pick) // len(np.unique(y_train)), seed] = model
        return accuracy_of(model, task["top_test"], task["y_test"])
    return train


def head_trainer(features, task, steps=200, learning_rate=1e-3, dropout=0.2):
    """train(pick, seed) -> test accuracy, for budget_table: a Keras head (dropout, Dense softmax) trained with Adam
    on frozen pooled features {'train': (N, D), 'test': (M, D)}: the frozen base + new head of the recipe."""
    keras = _keras()

    def train(pick, seed):
        keras.utils.set_random_seed(seed)
        head = keras.Sequential([keras.Input(shape=features["train"].shape[1:]), keras.layers.Dropout(dropout),
                                 keras.layers.Dense(int(task["y_train"].max()) + 1, activation="softmax")])
        fit_steps(head, features["train"][pick], task["y_train"][pick], steps, learning_rate, seed=seed)
        return accuracy_of(head, features["test"], task["y_test"])
    return train


def budget_table(task, probes, trainers=None, budgets=LABEL_BUDGETS, seeds=(0, 1), progress=None,
                 strengths=None) -> dict:
    """Test accuracy per method, budget and seed: {method: array (len(budgets), len(seeds))}, NaN where not run.

    task: dict with y_train (N,) and y_test (M,); probes: {method: {'train': (N, D), 'test': (M, D)}}, frozen
    features each probed by a logistic regression at every budget (a fraction of a second each); trainers:
    {method: (train, budgets_run)}, train(pick, seed) -> test accuracy after training on the examples pick,
    run at budgets_run only (None: every budget; seconds each). The labelled examples of a (budget, seed) are
    the same for every method. progress: a tqdm bar (anything with update(n)), told after every run.
    strengths: {probe method: its logistic C} (e.g. from cross_validated_strength); PROBE_STRENGTH for one not named.
    """
    strengths = strengths or {}
    trainers = trainers or {}
    table = {method: np.full((len(budgets), len(seeds)), np.nan) for method in [*probes, *trainers]}
    y_train, y_test = task["y_train"], task["y_test"]
    for i, budget in enumerate(budgets):
        for j, seed in enumerate(seeds):
            pick = per_class_subset(y_train, budget, seed)
            for method, features in probes.items():
                table[method][i, j] = probe_accuracy(features["train"][pick], y_train[pick], features["test"], y_test,
                                                     strengths.get(method, PROBE_STRENGTH))
            for method, (train, budgets_run) in trainers.items():
                if budgets_run is None or budget in budgets_run:
                    table[method][i, j] = train(pick, seed)
                    if progress is not None:
                        progress.update(1)
            if progress is not None:
                progress.update(len(probes))
    return table


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
        return f"{np.nanmedian(scores):.2f} [{np.nanmin(scores):.2f}-{np.nanmax(scores):.2f}]".rjust(17)
    width = max(len("labels per class"), *map(len, table)) + 1
    header = "labels per class".ljust(width) + "".join(f"{b:>17d}" for b in budgets)
    return "\n".join([header] + [method.ljust(width) + "".join(cell(row) for row in scores)
                                  for method, scores in table.items()])


def batchnorm_drift(backbone, models, x_test, y_test) -> dict:
    """The BatchNorm pitfall, measured on fine-tuned top models (fine_tune_top), e.g. BN frozen vs trainable.

    models: {setting: [model, ...]} (one per seed); x_test: their inputs (TOP_INPUT_LAYER's output). Returns {setting:
    dict(accuracy=(S,), mean_shift=(S,), var_shift=(S,))}: test accuracy, and how far each model's top BN layer's
    moving mean and variance moved from ImageNet's (mean absolute change, relative to ImageNet's spread).
    """
    imagenet_mean, imagenet_var = backbone.get_layer("top_bn").get_weights()[2:]
    spread = float(np.sqrt(imagenet_var).mean())
    results = {}
    for setting, trained in models.items():
        moved = [model.get_layer("top_bn").get_weights()[2:] for model in trained]
        results[setting] = {
            "accuracy": np.array([accuracy_of(model, x_test, y_test) for model in trained]),
            "mean_shift": np.array([np.abs(mean - imagenet_mean).mean() / spread for mean, _ in moved]),
            "var_shift": np.array([np.abs(var - imagenet_var).mean() / imagenet_var.mean() for _, var in moved])}
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
