"""The labelling widget and its labels file, through the Python API (simulated clicks)."""
from __future__ import annotations

import json
import multiprocessing
import warnings

import numpy as np
import pytest
from PIL import Image

from dlcourse.labelling import (SKIP, LabellingWidget, LabelsFileError, LabelStore, class_oracle,
                                export_labelled_folder, label_folder, person_at_keyboard, shortcut_keys)

ITEMS = [f"img{i}" for i in range(7)]


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(size=(len(ITEMS), 12, 12, 3))


def widget_on(path, images, **options) -> LabellingWidget:
    return LabellingWidget(path, ITEMS, images, guesses=np.zeros(len(ITEMS), int),
                           confidences=np.full(len(ITEMS), 0.6), page_size=3, **options)


def records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def test_every_click_is_in_the_file_at_once(tmp_path, images):
    path = tmp_path / "labels.jsonl"
    widget = widget_on(path, images)
    widget.click("img0", "good")
    assert LabelStore(path).labels() == {"img0": "good"}
    widget.click("img4", "bad")
    widget.click("img5", SKIP)
    assert LabelStore(path).labels() == {"img0": "good", "img4": "bad", "img5": SKIP}
    assert widget.progress.value == 3 and "3 / 7" in widget.status.value and "1 skipped" in widget.status.value
    assert widget.labelled() == {"img0": 0, "img4": 1}


def test_undo_takes_the_last_click_back_in_the_file_too(tmp_path, images):
    path = tmp_path / "labels.jsonl"
    widget = widget_on(path, images)
    widget.click("img1", "good")
    widget.click("img1", "bad")
    widget.click("img2", "good")
    widget.undo()
    assert LabelStore(path).labels() == {"img1": "bad"}
    widget.undo()
    assert LabelStore(path).labels() == {"img1": "good"}
    widget.undo()
    widget.undo()  # nothing left to undo: no effect
    assert LabelStore(path).labels() == {} and widget.undo_button.disabled


def test_the_buttons_carry_the_classes_a_browser_finds(tmp_path, images):
    widget = widget_on(tmp_path / "labels.jsonl", images)
    card = widget.card("img0")
    assert [b.description for b in card["buttons"].values()] == ["good (g)", "bad (b)", "skip (s)"]
    assert widget.undo_button.description == "Undo (u)"
    assert "dlcourse-label-bad" in card["buttons"]["bad"]._dom_classes
    card["buttons"]["bad"].click()
    assert widget.labelled() == {"img0": 1}
    assert "model: <b>good</b> (60%)" in widget.captions[0]


def type_key(widget: LabellingWidget, typed: str) -> None:
    """What the browser does on a keystroke in the shortcut box: send the box's whole new value."""
    widget.key_box.value = widget.key_box.value + typed


def test_keys_in_the_shortcut_box_label_the_outlined_image_and_clear_the_box(tmp_path, images):
    path = tmp_path / "labels.jsonl"
    widget = widget_on(path, images)
    assert widget.cursor() == "img0" and widget.card("img0")["box"].layout.border.startswith("3px")
    for typed, labels in (("g", {"img0": "good"}), ("B", {"img0": "good", "img1": "bad"}),
                          ("s", {"img0": "good", "img1": "bad", "img2": SKIP})):
        type_key(widget, typed)
        assert LabelStore(path).labels() == labels and widget.key_box.value == ""
    assert widget.cursor() == "img3" and widget.page == 1  # the next image's page is shown
    assert widget.card("img3")["box"].layout.border.startswith("3px")
    assert widget.card("img0")["box"].layout.border.startswith("1px")
    type_key(widget, "u")
    assert LabelStore(path).labels() == {"img0": "good", "img1": "bad"}
    assert widget.cursor() == "img2" and widget.page == 0 and "2 / 7" in widget.status.value


def test_keys_skip_what_is_labelled_and_unknown_keys_change_nothing(tmp_path, images):
    path = tmp_path / "labels.jsonl"
    widget = widget_on(path, images)
    widget.click("img0", "bad")
    type_key(widget, "g")
    assert LabelStore(path).labels() == {"img0": "bad", "img1": "good"}
    type_key(widget, "x")
    assert "<b>x</b> is not a shortcut" in widget.key_help.value and widget.key_box.value == ""
    assert LabelStore(path).labels() == {"img0": "bad", "img1": "good"}
    widget.key_box.value = "bg"  # two keys sent together (typed faster than the box cleared): the last one counts
    assert LabelStore(path).labels() == {"img0": "bad", "img1": "good", "img2": "good"}
    widget.answer(class_oracle(np.zeros(len(ITEMS), int), items=ITEMS))
    type_key(widget, "b")
    assert "Every image here is labelled" in widget.key_help.value and widget.cursor() is None
    assert LabelStore(path).labels()["img6"] == "good"


def test_classes_whose_first_letters_clash_get_digit_keys(tmp_path, images):
    assert shortcut_keys(("good", "bad")) == {"g": "good", "b": "bad", "s": SKIP}
    assert shortcut_keys(("cat", "car", "dog")) == {"1": "cat", "2": "car", "3": "dog", "s": SKIP}
    assert shortcut_keys(("sharp", "blurry")) == {"1": "sharp", "2": "blurry", "s": SKIP}
    widget = LabellingWidget(LabelStore(tmp_path / "l.jsonl", ("cat", "car")), ITEMS[:2], images[:2])
    type_key(widget, "2")
    assert widget.store.labels() == {"img0": "car"}
    assert [b.description for b in widget.card("img0")["buttons"].values()] == ["cat (1)", "car (2)", "skip (s)"]


def test_reopening_resumes_where_the_person_stopped(tmp_path, images):
    path = tmp_path / "labels.jsonl"
    first = widget_on(path, images)
    for item in ITEMS[:4]:
        first.click(item, "good")
    del first  # the kernel restarts
    again = widget_on(path, images)
    assert again.progress.value == 4 and again.page == 1  # page of img4, the first unlabelled one
    assert again.answer(class_oracle({item: 1 for item in ITEMS})) == 3
    assert LabelStore(path).labels() == {**{i: "good" for i in ITEMS[:4]}, **{i: "bad" for i in ITEMS[4:]}}


def test_two_widgets_on_one_file_keep_both_sets_of_labels(tmp_path, images):
    path = tmp_path / "labels.jsonl"
    one, two = widget_on(path, images), widget_on(path, images)
    one.click("img0", "good")
    two.click("img1", "bad")
    one.click("img2", "bad")
    assert LabelStore(path).labels() == {"img0": "good", "img1": "bad", "img2": "bad"}


def append_many(path: str, worker: int) -> None:
    store = LabelStore(path)
    for n in range(40):
        store.set(f"w{worker}-{n}", "good" if n % 2 else "bad")


def test_two_processes_appending_at_once_interleave_whole_lines(tmp_path):
    path = tmp_path / "labels.jsonl"
    LabelStore(path)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=append_many, args=(str(path), w)) for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert [w.exitcode for w in workers] == [0, 0]
    assert len(LabelStore(path).labels()) == 80 and len(records(path)) == 80


def test_a_line_cut_off_by_a_crash_loses_only_that_click(tmp_path, images):
    path = tmp_path / "labels.jsonl"
    widget_on(path, images).answer(class_oracle({i: 0 for i in ITEMS}), limit=3)
    with open(path, "a") as handle:
        handle.write('{"item": "img3", "lab')
    with pytest.warns(UserWarning, match="cut off"):
        store = LabelStore(path)
    assert store.labels() == {"img0": "good", "img1": "good", "img2": "good"}
    assert (tmp_path / "labels.jsonl.damaged").read_text() == '{"item": "img3", "lab'
    store.set("img3", "bad")
    assert LabelStore(path).labels()["img3"] == "bad"


def test_a_complete_last_line_without_newline_is_kept(tmp_path):
    path = tmp_path / "labels.jsonl"
    LabelStore(path).set("a", "good")
    path.write_text(path.read_text().rstrip("\n"))
    store = LabelStore(path)
    store.set("b", "bad")
    assert store.labels() == {"a": "good", "b": "bad"}


def test_a_hand_edited_unknown_class_is_named_and_nothing_is_lost(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path)
    store.set("a", "good")
    store.set("b", "bad")
    text = path.read_text().replace('"label": "bad"', '"label": "blurry"')
    path.write_text(text)
    with pytest.raises(LabelsFileError, match=r"line 3 .* 'blurry', which is not one of the classes"):
        store.labels()
    assert path.read_text() == text


def test_broken_json_in_the_middle_names_the_line(tmp_path):
    path = tmp_path / "labels.jsonl"
    LabelStore(path).set("a", "good")
    path.write_text(path.read_text() + "this is not json\n" + json.dumps({"item": "b", "label": "bad"}) + "\n")
    with pytest.raises(LabelsFileError, match="line 3 .* not valid JSON"):
        LabelStore(path).labels()


def test_an_older_csv_file_is_converted_with_a_backup(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text("item,label\ncat.jpg,good\ndog.jpg,bad\nfog.jpg,skip\n")
    with pytest.warns(UserWarning, match="older version"):
        store = LabelStore(path)
    assert store.classes == ("good", "bad")
    assert store.labels() == {"cat.jpg": "good", "dog.jpg": "bad", "fog.jpg": SKIP}
    assert (tmp_path / "labels.jsonl.v1.bak").read_text().startswith("item,label")


def test_a_newer_format_or_other_classes_are_refused_clearly(tmp_path):
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"format": "dlcourse-labels", "version": 99, "classes": ["good", "bad"]}) + "\n")
    with pytest.raises(LabelsFileError, match="newer dlcourse"):
        LabelStore(newer)
    LabelStore(tmp_path / "ours.jsonl")
    with pytest.raises(LabelsFileError, match="open it with those classes"):
        LabelStore(tmp_path / "ours.jsonl", classes=("sharp", "blurred"))
    with pytest.raises(ValueError, match="not one of the classes"):
        LabelStore(tmp_path / "ours.jsonl").set("a", "blurry")


def write_folder(folder, count=6):
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(folder / f"photo{i}.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")


def test_labelling_a_folder_skips_what_is_not_an_image(tmp_path):
    folder = tmp_path / "photos"
    write_folder(folder)
    with pytest.warns(UserWarning, match=r"Skipped 2 file\(s\).*broken.jpg.*notes.txt"):
        widget = label_folder(folder, page_size=4)
    assert widget.items == [f"photo{i}.png" for i in range(6)]
    assert widget.store.path == folder / "labels.jsonl"


def test_an_exported_folder_reads_back_with_load_image_folder(tmp_path):
    from dlcourse.datasets import load_image_folder

    folder = tmp_path / "photos"
    write_folder(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        widget = label_folder(folder)
    widget.answer(lambda item: "bad" if item in ("photo1.png", "photo4.png") else "good", limit=5)
    widget.click("photo5.png", SKIP)
    counts = export_labelled_folder(folder, tmp_path / "sorted")
    assert counts == {"good": 3, "bad": 2}
    train, _ = load_image_folder(tmp_path / "sorted", image_size=(20, 20), validation_split=0)
    labels = np.concatenate([y.numpy() for _, y in train])
    assert train.class_names == ["bad", "good"] and sorted(labels.tolist()) == [0, 0, 1, 1, 1]
    assert export_labelled_folder(folder, tmp_path / "sorted") == counts  # an earlier export is replaced


def test_exporting_one_class_says_what_to_do_and_keeps_the_labels(tmp_path):
    folder = tmp_path / "photos"
    write_folder(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        widget = label_folder(folder)
    widget.answer(lambda item: "good")
    with pytest.raises(ValueError, match="Only one class has labelled images"):
        export_labelled_folder(folder, tmp_path / "sorted")
    assert len(LabelStore(folder / "labels.jsonl").labels()) == 6
    widget.click("photo0.png", "bad")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(ValueError, match="not empty and not an earlier export"):
        export_labelled_folder(folder, tmp_path / "busy")


def test_a_folder_without_images_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no readable image"):
        label_folder(tmp_path / "empty")


def test_widget_inputs_are_checked(tmp_path, images):
    with pytest.raises(ValueError, match="one image per item"):
        LabellingWidget(tmp_path / "l.jsonl", ITEMS, images[:3])
    with pytest.raises(ValueError, match="distinct"):
        LabellingWidget(tmp_path / "l.jsonl", ["a", "a"], images[:2])


def test_person_at_keyboard_follows_the_server_and_the_override(monkeypatch):
    monkeypatch.delenv("DLCOURSE_INTERACTIVE", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not person_at_keyboard()
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/07.ipynb")
    assert person_at_keyboard()
    monkeypatch.setenv("DLCOURSE_INTERACTIVE", "0")
    assert not person_at_keyboard()
