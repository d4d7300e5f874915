"""The experiments of lecture 06 and its benchmark (dlcourse.models.transfer): label draws, the budget table,
its text form, step-counted training, and frozen features from one pass over several tasks."""
from __future__ import annotations

import numpy as np
import pytest

from dlcourse.models import transfer


def test_per_class_subset_draws_each_class_equally_without_repeats():
    labels = np.repeat([0, 1, 2], [30, 12, 50])
    pick = transfer.per_class_subset(labels, 10, seed=3)
    assert np.bincount(labels[pick]).tolist() == [10, 10, 10]
    assert len(set(pick.tolist())) == 30
    assert np.array_equal(pick, transfer.per_class_subset(labels, 10, seed=3))
    assert not np.array_equal(np.sort(pick), np.sort(transfer.per_class_subset(labels, 10, seed=4)))


def separable_task(n_per_class=40, dim=6, seed=0):
    """Two Gaussian blobs far apart: features {'train', 'test'} and labels."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_per_class)
    centres = np.where(y[:, None] == 1, 3.0, -3.0)
    features = {part: (centres + rng.normal(size=(len(y), dim))).astype(np.float32) for part in ("train", "test")}
    return dict(y_train=y, y_test=y), features


def test_budget_table_probes_every_budget_and_trainers_only_their_own():
    task, features = separable_task()
    noise = {part: np.random.default_rng(1).normal(size=(80, 6)) for part in ("train", "test")}
    calls = []

    def trainer(pick, seed):
        calls.append((len(pick), seed, tuple(sorted(pick.tolist()))))
        return 0.25

    class Progress:
        done = 0

        def update(self, n):
            self.done += n

    progress = Progress()
    table = transfer.budget_table(task, {"blobs": features, "noise": noise}, {"trained": (trainer, (10,))},
                                  budgets=(5, 10), seeds=(0, 1, 2), progress=progress)
    assert list(table) == ["blobs", "noise", "trained"]
    assert table["blobs"].shape == (2, 3) and np.all(table["blobs"] == 1.0)
    assert np.all(np.abs(table["noise"] - 0.5) < 0.3)
    assert np.isnan(table["trained"][0]).all() and np.all(table["trained"][1] == 0.25)
    assert [(n, seed) for n, seed, _ in calls] == [(20, 0), (20, 1), (20, 2)]
    # the trainer sees the very examples the probes were given at that budget and seed
    assert calls[1][2] == tuple(sorted(transfer.per_class_subset(task["y_train"], 10, 1).tolist()))
    assert progress.done == 2 * 3 * 2 + 3


def test_budget_table_probes_each_method_at_its_own_strength(monkeypatch):
    task, features = separable_task()
    used = []
    monkeypatch.setattr(transfer, "probe_accuracy", lambda *args: used.append(args[-1]) or 0.5)
    transfer.budget_table(task, {"default": features, "chosen": features}, budgets=(5, 10), seeds=(0,),
                          strengths={"chosen": 0.003})
    assert used == [transfer.PROBE_STRENGTH, 0.003] * 2  # methods in order, at each budget


def grouped_blobs(n_groups=6, per_group=10, dim=5, seed=0):
    """Two blobs in groups (each group holds both classes): features (N, D), labels (N,), groups (N,)."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n_groups * per_group // 2)
    x = np.where(y[:, None] == 1, 0.4, -0.4) + rng.normal(size=(len(y), dim))
    return x, y, np.repeat(np.arange(n_groups), per_group)


def test_cross_validated_strength_is_the_best_of_the_grid_by_grouped_folds():
    from sklearn.model_selection import GroupKFold, cross_val_score

    x, y, groups = grouped_blobs()
    grid = (1e-4, 0.01, 1.0, 100.0)
    expected = {C: cross_val_score(transfer.probe(C), x, y, groups=groups, cv=GroupKFold(5)).mean() for C in grid}
    chosen, accuracy = transfer.cross_validated_strength(x, y, groups, grid=grid)
    assert accuracy == pytest.approx(max(expected.values())) and expected[chosen] == pytest.approx(accuracy)
    assert len(set(np.round(list(expected.values()), 6))) > 1  # the grid's choices do differ on these data


def test_cross_validated_strength_judges_on_groups_it_has_not_seen():
    # every group is one class, told apart only by a column naming the group: no help on a new group
    groups = np.repeat(np.arange(10), 6)
    y = groups % 2
    x = np.eye(10)[groups] + np.random.default_rng(0).normal(scale=0.01, size=(60, 10))
    _, accuracy = transfer.cross_validated_strength(x, y, groups)
    assert accuracy < 0.75  # folds that mixed groups would score these features perfectly


def test_cross_validated_strength_needs_as_many_groups_as_folds():
    x, y, groups = grouped_blobs(n_groups=4, per_group=10)
    with pytest.raises(ValueError, match="at least 5 groups"):
        transfer.cross_validated_strength(x, y, groups)


def test_dihedral_view_gives_all_eight_mirrors_and_turns_of_the_same_batch():
    images = np.arange(2 * 3 * 3 * 1, dtype=np.float32).reshape(2, 3, 3, 1)
    expected = {np.rot90(flipped, k, axes=(1, 2)).tobytes()
                for flipped in (images, images[:, :, ::-1]) for k in range(4)}
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        view = transfer.dihedral_view(images, rng)
        assert view.shape == images.shape and view.flags.c_contiguous
        seen.add(view.tobytes())
    assert seen == expected and len(expected) == 8


def test_format_budget_table_gives_median_and_range_and_a_dash_where_not_run():
    table = {"probe": np.array([[0.5, 0.7, 0.6], [0.9, 0.8, 1.0]]),
             "a much longer method name": np.array([[np.nan] * 3, [0.25, 0.25, 0.25]])}
    lines = transfer.format_budget_table(table, budgets=(5, 50)).splitlines()
    assert lines[0].split()[-2:] == ["5", "50"]
    assert lines[1].split()[-4:] == ["0.60", "[0.50-0.70]", "0.90", "[0.80-1.00]"]
    assert lines[2].split()[-3:] == ["-", "0.25", "[0.25-0.25]"]
    assert len({line.index(line.split()[-1]) + len(line.split()[-1]) for line in lines}) == 1  # aligned columns


@pytest.fixture(scope="module")
def keras():
    from dlcourse.models.backend import keras_module

    return keras_module()


@pytest.mark.parametrize("n_examples, steps", [(10, 37), (64, 5)])
def test_fit_steps_takes_exactly_the_steps_asked_whatever_the_data_size(keras, n_examples, steps):
    x = np.random.default_rng(0).normal(size=(n_examples, 3)).astype(np.float32)
    y = np.arange(n_examples) % 2
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    transfer.fit_steps(model, x, y, steps, 1e-2)
    assert int(model.optimizer.iterations.numpy()) == steps


def test_fit_steps_with_views_learns_a_label_that_does_not_depend_on_orientation(keras):
    rng = np.random.default_rng(0)
    y = np.arange(64) % 2
    x = (rng.random((64, 4, 4, 1)) * 0.2 + y[:, None, None, None] * 0.8).astype(np.float32)  # bright = class 1
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    transfer.fit_steps(model, x, y, 60, 3e-2, augment=True)
    assert int(model.optimizer.iterations.numpy()) == 60
    assert transfer.accuracy_of(model, x, y) == 1.0


def tiny_backbone(keras):
    """A stand-in backbone with Lite0's layer names where the experiments read: images (N, 8, 8, 3)."""
    images = keras.Input((8, 8, 3))
    low = keras.layers.Conv2D(4, 3, padding="same", name="block4_add")(images)
    top_input = keras.layers.Conv2D(5, 3, strides=2, padding="same", name=transfer.TOP_INPUT_LAYER)(low)
    top = keras.layers.Conv2D(6, 1, name="top_activation")(top_input)
    return keras.Model(images, top)


def test_tasks_features_from_one_pass_match_each_part_alone(keras):
    backbone = tiny_backbone(keras)
    rng = np.random.default_rng(0)
    tasks = {name: {f"x_{part}": rng.random((n, 8, 8, 3), dtype=np.float32) for part, n in parts.items()}
             for name, parts in {"a": {"train": 7, "test": 3}, "b": {"train": 2, "test": 5}}.items()}
    layers = {"a": ["block4_add", "top_activation"], "b": ["top_activation"]}
    features = transfer.tasks_features(backbone, tasks, layers, with_top_inputs=True)
    for name, task in tasks.items():
        for part in ("train", "test"):
            outputs = keras.Model(backbone.input, [backbone.get_layer(layer).output for layer in layers[name]])
            outputs = outputs(task[f"x_{part}"])
            outputs = outputs if isinstance(outputs, list) else [outputs]
            pooled = np.concatenate([keras.ops.convert_to_numpy(out).mean(axis=(1, 2)) for out in outputs], axis=1)
            np.testing.assert_allclose(features[name][part], pooled, rtol=1e-5, atol=1e-6)
            whole = backbone.get_layer(transfer.TOP_INPUT_LAYER).output
            np.testing.assert_allclose(features[name][f"top_{part}"],
                                       keras.Model(backbone.input, whole)(task[f"x_{part}"]), rtol=1e-5, atol=1e-6)
    assert set(transfer.task_features(backbone, tasks["b"], ["top_activation"])) == {"train", "test"}
