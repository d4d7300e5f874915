"""A student's own labelled images: one sub-folder per class, read through Keras' directory loader."""
from __future__ import annotations

import atexit
import shutil
import tempfile
import warnings
from pathlib import Path

from PIL import Image

KERAS_IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what image_dataset_from_directory reads
LAYOUT_HINT = "put one sub-folder per class in it, e.g. my_images/good/*.jpg and my_images/bad/*.jpg"


def is_hidden(path: Path, root: Path) -> bool:
    """True when any part of path below root starts with a dot (.ipynb_checkpoints, .DS_Store, ._photo.jpg)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def class_folders(root: Path) -> list[Path]:
    """Visible sub-folders of root, sorted by name: one per class."""
    return sorted(path for path in root.iterdir() if path.is_dir() and not is_hidden(path, root))


def image_problem(path: Path) -> str | None:
    """Why the file at path is no usable image (str), or None when it decodes as a format Keras reads."""
    if path.suffix.lower() not in KERAS_IMAGE_SUFFIXES:
        return f"not an image file Keras reads ({', '.join(KERAS_IMAGE_SUFFIXES)})"
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        return f"cannot be decoded: {error}"
    return None


def scan_folder(root: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """Usable image files per class name, and 'path (reason)' for every visible file that was skipped."""
    usable, skipped = {}, []
    for folder in class_folders(root):
        usable[folder.name] = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not is_hidden(p, root)):
            problem = image_problem(path)
            if problem:
                skipped.append(f"{path} ({problem})")
            else:
                usable[folder.name].append(path)
    return usable, skipped


def check_classes(root: Path, usable: dict[str, list[Path]]) -> None:
    """Raise ValueError with what to do unless at least two classes each hold a usable image."""
    if not usable:
        loose = [p.name for p in root.iterdir() if p.is_file() and not is_hidden(p, root)]
        found = f" (found {len(loose)} loose files there)" if loose else ""
        raise ValueError(f"{root} has no class sub-folders{found}; {LAYOUT_HINT}.")
    empty = [name for name, files in usable.items() if not files]
    if empty:
        raise ValueError(f"Class folder(s) {empty} in {root} hold no readable image; add JPEG/PNG images "
                         "to them or remove them.")
    if len(usable) < 2:
        raise ValueError(f"{root} has only one class, {list(usable)}; a classifier needs at least two: "
                         f"{LAYOUT_HINT}.")


def stage_files(usable: dict[str, list[Path]], root: Path) -> Path:
    """Temporary copy of the folder tree holding only the usable files (as links where possible), removed at exit."""
    staging = Path(tempfile.mkdtemp(prefix="dlcourse_images_"))
    atexit.register(shutil.rmtree, staging, True)
    for path in (path for files in usable.values() for path in files):
        target = staging / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.symlink_to(path.resolve())
        except OSError:
            shutil.copy2(path, target)
    return staging


def load_image_folder(path, image_size=(64, 64), validation_split: float = 0.2, seed: int = 0, batch_size: int = 32):
    """(train, val) tf.data pipelines of (images (B, H, W, 3) float32 in [0, 1], labels (B,) int64) from class folders.

    val is None when validation_split is 0. Unreadable and non-image files are skipped with a warning.
    Each dataset has `class_names`, the sorted sub-folder names.
    """
    import keras
    import tensorflow as tf

    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"Image folder {root} does not exist; create it and {LAYOUT_HINT}.")
    usable, skipped = scan_folder(root)
    check_classes(root, usable)
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} file(s) that are not readable images: " + "; ".join(skipped),
                      UserWarning, stacklevel=2)
    datasets = keras.utils.image_dataset_from_directory(
        stage_files(usable, root), labels="inferred", label_mode="int", class_names=list(usable),
        image_size=tuple(image_size), batch_size=batch_size, shuffle=True, seed=seed,
        validation_split=validation_split or None, subset="both" if validation_split else None,
    )
    train, val = datasets if validation_split else (datasets, None)

    def rescaled(dataset):
        scaled = dataset.map(lambda images, labels: (images / 255.0, tf.cast(labels, tf.int64)))
        scaled = scaled.prefetch(tf.data.AUTOTUNE)
        scaled.class_names = list(usable)
        return scaled

    return rescaled(train), (rescaled(val) if val is not None else None)
