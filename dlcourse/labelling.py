"""Labelling images by hand in a notebook: a labels file that survives crashes, and a widget of stock ipywidgets.

The labels file is JSON lines: a header ``{"format": "dlcourse-labels", "version": 2, "classes": [...]}``,
then one record per click, ``{"item": "cat.jpg", "label": "good", "time": ...}``. The last record of an item
wins; ``"label": null`` clears it (undo); ``"skip"`` marks an image the person passed over. Every click is
appended at once under a lock file (fcntl) and fsync'ed: a crash or a kernel restart loses at most the click in
flight, two widgets on one file interleave whole lines, and opening the file again resumes where the person
stopped. Files of the older format (version 1: CSV lines ``item,label``) are converted, with a backup.

:class:`LabellingWidget` shows a grid of images, each with the model's guess and confidence when there is one,
and good / bad / skip buttons; undo, pages and progress above. Keyboard shortcuts work without custom JavaScript:
a small text box (a stock ``ipywidgets.Text`` sending every keystroke) takes one key at a time — ``g`` / ``b`` /
``s`` label the current image (the first one not labelled yet, outlined) good / bad / skip, ``u`` undoes — and
clears itself after each key. An oracle answers through the same buttons
(:meth:`LabellingWidget.answer`), so tests and graded cells run exactly what a person's clicks run.
:func:`label_folder` labels a folder of one's own photos and :func:`export_labelled_folder` writes them as
class sub-folders that :func:`dlcourse.datasets.load_image_folder` reads.
"""
from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dlcourse.files import write_text_atomically

FORMAT = "dlcourse-labels"
VERSION = 2
SKIP = "skip"
SKIP_KEY, UNDO_KEY = "s", "u"
DEFAULT_CLASSES = ("good", "bad")
EXPORT_MARK = ".dlcourse-export"
INTERACTIVE_ENV = "DLCOURSE_INTERACTIVE"


class LabelsFileError(ValueError):
    """A labels file cannot be read as it is; the message names the line and what to do. The file is left as it was."""


# ---------------------------------------------------------------------------------------------------------
# The labels file
# ---------------------------------------------------------------------------------------------------------

def header_line(classes: Sequence[str]) -> str:
    """The first line of a labels file for these classes."""
    return json.dumps({"format": FORMAT, "version": VERSION, "classes": list(classes)}) + "\n"


def shortcut_keys(classes: Sequence[str]) -> dict[str, str]:
    """key -> label for the shortcut box: each class by its first letter ('g' good, 'b' bad) and 's' for skip.

    When first letters clash or would take 's' or 'u', the classes get the digits 1, 2, ... instead (up to 9).
    """
    letters = [name[:1].lower() for name in classes]
    if len(set(letters)) < len(letters) or {SKIP_KEY, UNDO_KEY} & set(letters) or not all(map(str.isalpha, letters)):
        letters = [str(n) for n in range(1, min(len(classes), 9) + 1)]
    return {**dict(zip(letters, classes)), SKIP_KEY: SKIP}


def check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    """classes as a tuple of two or more distinct names, none of them 'skip'; ValueError otherwise."""
    classes = tuple(str(c) for c in classes)
    if len(classes) < 2 or len(set(classes)) != len(classes) or SKIP in classes:
        raise ValueError(f"classes must be two or more distinct names other than '{SKIP}'; got {list(classes)}.")
    return classes


class LabelStore:
    """The labels of one labels file (path), for the given classes (default: the file's, else good / bad).

    Reading replays the file; :meth:`set` appends one record under the lock and fsyncs it.
    """

    def __init__(self, path, classes: Sequence[str] | None = None):
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.locked():
            if not self.path.exists() or self.path.stat().st_size == 0:
                write_text_atomically(self.path, header_line(check_classes(classes or DEFAULT_CLASSES)))
            else:
                self.repair_or_upgrade()
        found = self.read_header()
        if classes is not None and tuple(classes) != found:
            raise LabelsFileError(f"{self.path} holds labels for the classes {list(found)}, not {list(classes)}: "
                                  "open it with those classes, or choose another labels file.")
        self.classes = found

    @contextlib.contextmanager
    def locked(self, shared: bool = False):
        """Hold the file's lock (exclusive, or shared for reading) for the block."""
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read_header(self) -> tuple[str, ...]:
        """The classes named in the file's header line."""
        with open(self.path) as handle:
            first = handle.readline()
        return tuple(parse_header(first, self.path)["classes"])

    def repair_or_upgrade(self) -> None:
        """Under the lock: convert a version-1 file, and cut a half-written last line (the click in flight) away."""
        raw = self.path.read_bytes()
        if not raw.lstrip().startswith(b"{"):
            self.upgrade_from_version_1(raw.decode("utf-8", errors="replace"))
            return
        if raw.endswith(b"\n"):
            return
        cut = raw.rfind(b"\n") + 1
        tail = raw[cut:]
        try:
            json.loads(tail)
        except ValueError:
            damaged = self.path.with_name(self.path.name + ".damaged")
            damaged.write_bytes(tail)
            with open(self.path, "r+b") as handle:
                handle.truncate(cut)
                os.fsync(handle.fileno())
            warnings.warn(f"The last line of {self.path} was cut off (a crash while a label was being written); "
                          f"that one label is dropped and its bytes kept in {damaged}. All other labels are kept.",
                          UserWarning, stacklevel=3)
        else:
            with open(self.path, "ab") as handle:
                handle.write(b"\n")
                os.fsync(handle.fileno())

    def upgrade_from_version_1(self, text: str) -> None:
        """Rewrite a version-1 file (CSV 'item,label' lines, an optional 'item,label' header) as version 2."""
        rows = [line.rsplit(",", 1) for line in text.splitlines() if line.strip()]
        if rows and [c.strip() for c in rows[0]] == ["item", "label"]:
            rows = rows[1:]
        bad = [n for n, row in enumerate(rows, 1) if len(row) != 2]
        if bad:
            raise LabelsFileError(f"{self.path} is neither a dlcourse labels file nor the older 'item,label' CSV "
                                  f"(line {bad[0]} has no comma): fix that line, or move the file away and start anew.")
        classes = tuple(dict.fromkeys(label.strip() for _, label in rows if label.strip() != SKIP))
        classes = check_classes(classes if len(classes) >= 2 else tuple(dict.fromkeys(classes + DEFAULT_CLASSES)))
        backup = self.path.with_name(self.path.name + ".v1.bak")
        shutil.copy2(self.path, backup)
        now = time.time()
        records = [json.dumps({"item": item.strip(), "label": label.strip(), "time": now}) + "\n" for item, label in rows]
        write_text_atomically(self.path, header_line(classes) + "".join(records))
        warnings.warn(f"{self.path} was written by an older version (format 1); its {len(records)} labels were "
                      f"converted to format {VERSION} (the original is kept in {backup}).", UserWarning, stacklevel=4)

    def records(self) -> list[dict]:
        """Every record after the header, in file order; LabelsFileError naming the first line that is wrong."""
        with self.locked(shared=True):
            lines = self.path.read_text().splitlines()
        classes = parse_header(lines[0], self.path)["classes"]
        allowed = set(classes) | {SKIP, None}
        out = []
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise LabelsFileError(f"line {number} of {self.path} is not valid JSON ({line[:60]!r}): fix or "
                                      "delete that line (the other labels are safe), then open the file again.") from None
            if not isinstance(record, dict) or not isinstance(record.get("item"), str) or "label" not in record:
                raise LabelsFileError(f"line {number} of {self.path} is not a label record "
                                      '{"item": ..., "label": ...}: fix or delete that line.')
            if record["label"] not in allowed:
                raise LabelsFileError(f"line {number} of {self.path} labels {record['item']!r} as "
                                      f"{record['label']!r}, which is not one of the classes {classes} (or "
                                      f"'{SKIP}'): correct the class name on that line, then open the file again.")
            out.append(record)
        return out

    def labels(self) -> dict[str, str]:
        """item -> its current label (a class name or 'skip'); cleared items are absent."""
        current: dict[str, str] = {}
        for record in self.records():
            if record["label"] is None:
                current.pop(record["item"], None)
            else:
                current[record["item"]] = record["label"]
        return current

    def set(self, item: str, label: str | None) -> None:
        """Append one record: item gets label (a class, 'skip', or None to clear it); durable on return."""
        if label not in (*self.classes, SKIP, None):
            raise ValueError(f"{label!r} is not one of the classes {list(self.classes)} or '{SKIP}'.")
        line = json.dumps({"item": str(item), "label": label, "time": time.time()}) + "\n"
        with self.locked(), open(self.path, "ab") as handle:
            handle.write(line.encode())
            handle.flush()
            os.fsync(handle.fileno())

    def class_labels(self, items: Sequence[str]) -> dict[str, int]:
        """item -> class index for those of items that carry a class label (skipped and unlabelled ones left out)."""
        current = self.labels()
        return {item: self.classes.index(current[item]) for item in items if current.get(item) in self.classes}


def parse_header(line: str, path: Path) -> dict:
    """The header record of a labels file; LabelsFileError when it is missing or from a newer version."""
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise LabelsFileError(f"{path} does not start with a dlcourse labels header: is it a labels file? Move it "
                              "away or choose another path.")
    if header.get("version", 0) > VERSION:
        raise LabelsFileError(f"{path} was written by a newer dlcourse (format {header['version']}; this one reads "
                              f"up to {VERSION}): update the course (`bash run.sh setup`) to read it.")
    check_classes(header.get("classes", ()))
    return header


# ---------------------------------------------------------------------------------------------------------
# Images for the widget
# ---------------------------------------------------------------------------------------------------------

def png_bytes(image, size: int) -> bytes:
    """PNG of an image (H, W, 3) float in [0, 1] or uint8, or of an image file's path, scaled to fit size px."""
    from PIL import Image

    if isinstance(image, (str, Path)):
        picture = Image.open(image).convert("RGB")
    else:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
        picture = Image.fromarray(array.squeeze())
    scale = size / max(picture.size)
    picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                             Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def person_at_keyboard() -> bool:
    """True when a person can click in this kernel's notebook: run from a Jupyter server, not executed headless.

    $DLCOURSE_INTERACTIVE=1 or 0 overrides; otherwise the kernel must have been started by a Jupyter server
    (which names the session in $JPY_SESSION_NAME; nbclient and nbgrader do not).
    """
    chosen = os.environ.get(INTERACTIVE_ENV)
    if chosen is not None:
        return chosen.strip() not in ("", "0", "false", "no")
    return bool(os.environ.get("JPY_SESSION_NAME"))


# ---------------------------------------------------------------------------------------------------------
# The widget
# ---------------------------------------------------------------------------------------------------------

class LabellingWidget:
    """A grid of images to label with good / bad / skip buttons, undo, pages and progress; shown as a cell's value.

    store -- a LabelStore (or a labels file path); items -- one key per image (str, e.g. a file name or a
    pool index); images -- the images, (N, H, W, 3) arrays or file paths, in the order of items;
    guesses / confidences -- the model's class index (N,) and its probability (N,), optional; notes -- optional
    text per image (e.g. why it is shown). Labels already in the file are shown and counted: reopening resumes.
    The shortcut box (``key_box``) labels the current image, the first one not labelled yet: see shortcut_keys.
    """

    def __init__(self, store, items: Sequence[str], images, guesses=None, confidences=None, notes=None,
                 page_size: int = 12, columns: int = 4, image_px: int = 128):
        import ipywidgets as w

        self.store = store if isinstance(store, LabelStore) else LabelStore(store)
        self.items = [str(item) for item in items]
        if len(set(self.items)) != len(self.items):
            raise ValueError("items must be distinct: each names one image in the labels file.")
        if len(images) != len(self.items):
            raise ValueError(f"{len(images)} images for {len(self.items)} items: give one image per item.")
        self.images, self.image_px = images, image_px
        self.captions = [caption(self.store.classes, guesses, confidences, notes, i) for i in range(len(self.items))]
        self.page_size, self.columns = page_size, columns
        self.undo_stack: list[tuple[str, str | None]] = []
        self.current = {item: label for item, label in self.store.labels().items() if item in set(self.items)}
        self.progress = w.IntProgress(min=0, max=max(1, len(self.items)), description="labelled")
        self.status = w.HTML()
        self.status.add_class("dlcourse-status")
        self.keys = shortcut_keys(self.store.classes)
        self.key_of = {label: key for key, label in self.keys.items()}
        self.undo_button = w.Button(description=f"Undo ({UNDO_KEY})", icon="undo", tooltip="take the last click back")
        self.undo_button.add_class("dlcourse-undo")
        self.undo_button.on_click(lambda _: self.undo())
        self.previous_button = w.Button(description="Previous page", icon="arrow-left")
        self.next_button = w.Button(description="Next page", icon="arrow-right")
        self.previous_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.key_box = w.Text(value="", continuous_update=True, placeholder="click here, then type keys",
                              layout=w.Layout(width="170px"))
        self.key_box.add_class("dlcourse-keys")
        self.key_box.observe(self.on_key_box, names="value")
        self.key_help = w.HTML(self.legend())
        self.grid = w.GridBox(layout=w.Layout(grid_template_columns=f"repeat({columns}, {image_px + 24}px)",
                                              grid_gap="6px"))
        self.cards: dict[str, dict] = {}
        self.view = w.VBox([w.HBox([self.progress, self.status]),
                            w.HBox([self.undo_button, self.previous_button, self.next_button]),
                            w.HBox([self.key_box, self.key_help]), self.grid])
        first_open = next((i for i, item in enumerate(self.items) if item not in self.current), 0)
        self.page = -1
        self.show_page(first_open // page_size)

    # -- what a person sees ---------------------------------------------------------------------------
    @property
    def pages(self) -> int:
        """Number of pages of the grid."""
        return max(1, -(-len(self.items) // self.page_size))

    def show_page(self, page: int) -> None:
        """Show page number `page` (0-based, clipped to the pages there are)."""
        self.page = min(max(page, 0), self.pages - 1)
        shown = self.items[self.page * self.page_size:(self.page + 1) * self.page_size]
        self.grid.children = [self.card(item)["box"] for item in shown]
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page == self.pages - 1
        self.refresh()

    def card(self, item: str) -> dict:
        """The widgets of one image (built the first time its page is shown): box, buttons by label, state text."""
        import ipywidgets as w

        if item not in self.cards:
            index = self.items.index(item)
            image = w.Image(value=png_bytes(self.images[index], self.image_px), format="png",
                            layout=w.Layout(width=f"{self.image_px}px", height=f"{self.image_px}px",
                                            object_fit="contain"))
            buttons = {}
            for label in (*self.store.classes, SKIP):
                key = f" ({self.key_of[label]})" if label in self.key_of else ""
                button = w.Button(description=label + key, layout=w.Layout(width="auto"),
                                  tooltip=f"label {item} as {label}")
                button.add_class(f"dlcourse-label-{label}")
                button.on_click(lambda _, item=item, label=label: self.label(item, label))
                buttons[label] = button
            state = w.HTML()
            box = w.VBox([image, w.HTML(self.captions[index]), w.HBox(list(buttons.values())), state],
                         layout=w.Layout(border="1px solid #ccc", padding="4px"))
            box.add_class("dlcourse-card")
            self.cards[item] = {"box": box, "buttons": buttons, "state": state}
        return self.cards[item]

    def refresh(self) -> None:
        """Update progress, the status line and every shown card's state from the labels."""
        done = sum(1 for item in self.items if item in self.current)
        skipped = sum(1 for item in self.items if self.current.get(item) == SKIP)
        self.progress.value = done
        self.status.value = (f"<b>{done} / {len(self.items)}</b> labelled ({skipped} skipped) · page "
                             f"{self.page + 1} of {self.pages} · saved in <code>{self.store.path.name}</code>")
        self.undo_button.disabled = not self.undo_stack
        current = self.cursor()
        for item, card in self.cards.items():
            label = self.current.get(item)
            card["state"].value = f"→ <b>{label}</b>" if label else "<i>not labelled</i>"
            card["box"].layout.border = "3px solid #1f77b4" if item == current else "1px solid #ccc"
            for name, button in card["buttons"].items():
                button.button_style = "info" if name == label else ""

    def _ipython_display_(self):
        from IPython.display import display

        display(self.view)

    # -- what a click does ----------------------------------------------------------------------------
    def label(self, item: str, label: str) -> None:
        """Give item the label (a class or 'skip'), write it to the file at once, and remember it for undo."""
        self.undo_stack.append((item, self.current.get(item)))
        self.store.set(item, label)
        self.current[item] = label
        self.refresh()

    def undo(self) -> None:
        """Take the last click back (its previous label is written to the file again)."""
        if not self.undo_stack:
            return
        item, previous = self.undo_stack.pop()
        self.store.set(item, previous)
        if previous is None:
            self.current.pop(item, None)
        else:
            self.current[item] = previous
        self.refresh()

    def cursor(self) -> str | None:
        """The image the shortcut keys label: the first item not labelled yet (None when all are)."""
        return next((item for item in self.items if item not in self.current), None)

    def legend(self) -> str:
        """The line next to the shortcut box: which key does what."""
        keys = [f"<b>{key}</b> {label}" for key, label in self.keys.items()] + [f"<b>{UNDO_KEY}</b> undo"]
        return " · ".join(keys) + " — for the outlined image"

    def press(self, key: str) -> None:
        """What one key in the shortcut box does: label the current image, or undo; then show the next one's page."""
        key = key.lower()
        if key not in (*self.keys, UNDO_KEY):
            self.key_help.value = f"<b>{key}</b> is not a shortcut. {self.legend()}"
            return
        if key == UNDO_KEY:
            self.undo()
        elif self.cursor() is None:
            self.key_help.value = f"Every image here is labelled; <b>{UNDO_KEY}</b> takes the last label back."
            return
        else:
            self.label(self.cursor(), self.keys[key])
        self.key_help.value = self.legend()
        if self.cursor() is not None:
            self.show_page(self.items.index(self.cursor()) // self.page_size)

    def on_key_box(self, change: dict) -> None:
        """A keystroke in the shortcut box: act on the last character typed, then clear the box."""
        typed = change["new"]
        if not typed:
            return
        self.key_box.value = ""
        self.press(typed[-1])

    def click(self, item: str, label: str) -> None:
        """Press item's button for label, as a person would (the page holding it is shown first)."""
        self.show_page(self.items.index(item) // self.page_size)
        self.card(item)["buttons"][label].click()

    def answer(self, oracle: Callable[[str], str], limit: int | None = None) -> int:
        """Let oracle(item) -> label click through the unlabelled items in order (at most limit); returns the count."""
        todo = [item for item in self.items if item not in self.current][:limit]
        for item in todo:
            self.click(item, oracle(item))
        return len(todo)

    # -- what the loop reads back ---------------------------------------------------------------------
    def labelled(self) -> dict[str, int]:
        """item -> class index of the shown items labelled with a class (not skipped), from the file."""
        return self.store.class_labels(self.items)


def caption(classes, guesses, confidences, notes, index: int) -> str:
    """The text under an image: the model's guess and confidence, and a note, when given."""
    parts = []
    if guesses is not None:
        guess = classes[int(guesses[index])]
        sure = f" ({float(confidences[index]):.0%})" if confidences is not None else ""
        parts.append(f"model: <b>{guess}</b>{sure}")
    if notes is not None and notes[index]:
        parts.append(f"<i>{notes[index]}</i>")
    return "<br>".join(parts) or "&nbsp;"


def class_oracle(labels: dict[str, int] | Sequence[int], classes: Sequence[str] = DEFAULT_CLASSES,
                 items: Sequence[str] | None = None) -> Callable[[str], str]:
    """A stand-in for the person: item -> the class name of its true label.

    labels -- item -> class index, or class indices (N,) in the order of items (default: items '0', '1', ...).
    """
    if not isinstance(labels, dict):
        keys = items if items is not None else [str(i) for i in range(len(labels))]
        labels = dict(zip(map(str, keys), np.asarray(labels).tolist()))
    return lambda item: classes[int(labels[item])]


# ---------------------------------------------------------------------------------------------------------
# A folder of one's own photos
# ---------------------------------------------------------------------------------------------------------

def images_in_folder(folder) -> list[Path]:
    """Readable image files under folder (relative order by path); unreadable and non-image files skipped with a warning."""
    from dlcourse.data.folders import image_problem, is_hidden

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder: give the folder that holds the images to label.")
    usable, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not is_hidden(p, root)):
        if path.name.endswith((".jsonl", ".lock", ".damaged", ".bak")):
            continue
        problem = image_problem(path)
        (skipped.append(f"{path.relative_to(root)} ({problem})") if problem else usable.append(path))
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} file(s) that are not readable images: " + "; ".join(skipped),
                      UserWarning, stacklevel=3)
    if not usable:
        raise ValueError(f"{root} holds no readable image (JPEG, PNG, BMP or GIF): put the photos to label there.")
    return usable


def default_labels_file(folder) -> Path:
    """Where label_folder keeps a folder's labels unless told otherwise: <folder>/labels.jsonl."""
    return Path(folder).expanduser() / "labels.jsonl"


def label_folder(folder, labels_file=None, classes: Sequence[str] = DEFAULT_CLASSES, **widget_options) -> LabellingWidget:
    """A LabellingWidget for the images in folder (items: paths relative to it), labels in labels_file.

    widget_options go to LabellingWidget (page_size, columns, image_px). Reopening resumes.
    """
    root = Path(folder).expanduser()
    paths = images_in_folder(root)
    store = LabelStore(labels_file or default_labels_file(root), classes)
    return LabellingWidget(store, [p.relative_to(root).as_posix() for p in paths], paths, **widget_options)


def export_labelled_folder(folder, target, labels_file=None) -> dict[str, int]:
    """Write the labelled images of folder as target/<class>/<file> (hard links, else copies); images per class.

    target must be new, empty or an earlier export (which is replaced). Skipped and unlabelled images stay out.
    load_image_folder(target) reads the result.
    """
    root, target = Path(folder).expanduser(), Path(target).expanduser()
    store = LabelStore(labels_file or default_labels_file(root))
    current = {item: label for item, label in store.labels().items() if label in store.classes}
    missing = [item for item in current if not (root / item).is_file()]
    if missing:
        warnings.warn(f"{len(missing)} labelled file(s) are no longer in {root} and are left out, e.g. {missing[:3]} "
                      "(their labels stay in the labels file).", UserWarning, stacklevel=2)
    current = {item: label for item, label in current.items() if item not in missing}
    counts = {name: sum(1 for label in current.values() if label == name) for name in store.classes}
    if sum(1 for n in counts.values() if n) < 2:
        raise ValueError(f"Only one class has labelled images so far ({counts}): a classifier needs at least two. "
                         f"Label some images of the other class in {root} first; the labels given are kept.")
    if target.exists() and any(target.iterdir()):
        if not (target / EXPORT_MARK).is_file():
            raise ValueError(f"{target} is not empty and not an earlier export: choose a new folder for the export.")
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    (target / EXPORT_MARK).write_text(f"exported from {root}\n")
    for item, label in current.items():
        destination = target / label / item.replace("/", "__")
        destination.parent.mkdir(exist_ok=True)
        try:
            os.link(root / item, destination)
        except OSError:
            shutil.copy2(root / item, destination)
    return counts
