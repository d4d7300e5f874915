"""A search index of a folder of photos, kept on disk: a FAISS index of embeddings plus a JSON manifest.

The manifest lists every indexed file (path relative to the folder, size, modification time, sha256), the files
that could not be read, the embedder's name and the vector size, and the LiteRT copy of the embedder (file
name, sha256, image size) that answers queries without TensorFlow (:mod:`.lite`). Re-indexing embeds only new or
changed files and drops deleted ones. Every save writes the vectors to a new file and then replaces the manifest that points
to them (``os.replace``, atomic), so an interrupted run leaves the previous index intact and usable; indexing
also saves every ``checkpoint_images`` new images, so a crash late in a long run keeps most of the work.
"""
from __future__ import annotations

import json
import time
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from .embedders import default_embedder, embedder_image_size, embedder_name
from ..files import replacing, write_bytes_atomically
from ..models.backbones import sha256_of
from .images import ImageReadError, find_images, read_image
from .lite import LITE_PREFIX, LITE_SUFFIX, LiteEmbedder, LiteModelError
from .similarity import groups_from_pairs, l2_normalize

FORMAT = "dlcourse-search-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_INDEX_FOLDER = ".dlcourse-search"  # inside the photo folder, skipped when indexing
CHECKPOINT_IMAGES = 1024


class SearchError(ValueError):
    """The search tool cannot do what was asked; the message says what to do."""


class IndexMismatch(SearchError):
    """The index on disk was written by another version, for another folder or with another embedder."""


@dataclass(frozen=True)
class Entry:
    """One indexed file: path relative to the folder, its size, modification time and sha256."""

    path: str
    size: int
    mtime_ns: int
    sha256: str


@dataclass
class SearchIndex:
    """A folder's index: entries (N) and their L2-normalised embeddings (N, D) float32, row for row."""

    directory: Path
    root: Path
    embedder: str
    dim: int
    entries: list[Entry]
    vectors: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)
    lite: dict | None = None  # {"file", "sha256", "embedder", "image_size"} of the LiteRT copy of the embedder

    def __len__(self) -> int:
        return len(self.entries)

    def faiss_index(self) -> faiss.IndexFlatIP:
        """An exact inner-product FAISS index of the vectors (inner product = cosine on unit vectors)."""
        index = faiss.IndexFlatIP(self.dim)
        index.add(np.ascontiguousarray(self.vectors, dtype=np.float32))
        return index

    def file(self, row: int) -> Path:
        """The absolute path of an indexed row."""
        return self.root / self.entries[row].path


@dataclass
class UpdateReport:
    """What one indexing run did: file counts by outcome, and the files skipped with their reasons."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    ignored: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    embedded: int = 0
    embed_seconds: float = 0.0  # reading and embedding the new and changed files: wall clock
    embed_cpu_seconds: float = 0.0  # the same in CPU seconds of this process (all its threads)
    lite_seconds: float | None = None  # writing the LiteRT copy of the embedder, when this run did

    def summary(self) -> str:
        """One line for the command line."""
        line = (f"{self.added} added, {self.changed} changed, {self.removed} removed, {self.unchanged} unchanged, "
                f"{len(self.skipped)} unreadable skipped, {self.ignored} other files ignored")
        if self.embedded:
            rate = self.embedded / max(self.embed_seconds, 1e-9)
            line += (f"; embedded {self.embedded} images in {self.embed_seconds:.1f} s ({rate:.1f} images/s, "
                     f"{self.embed_cpu_seconds:.1f} s CPU)")
        if self.lite_seconds is not None:
            line += f"; wrote the LiteRT copy of the embedder for fast queries in {self.lite_seconds:.1f} s"
        return line


# ---------------------------------------------------------------------------------------------------------
# Reading and writing
# ---------------------------------------------------------------------------------------------------------

def rebuild_advice(directory: Path) -> str:
    return f"rebuild it with `dlcourse search index FOLDER --index {directory} --rebuild`"


def load_index(directory) -> SearchIndex:
    """Read an index folder; SearchError when there is none, IndexMismatch when it is unusable."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise SearchError(f"no search index in {directory}: build one with "
                          f"`dlcourse search index FOLDER --index {directory}`.")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexMismatch(f"{manifest_path} is damaged ({err}); {rebuild_advice(directory)}.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexMismatch(f"{directory} does not hold a dlcourse search index; {rebuild_advice(directory)}.")
    if manifest.get("version") != FORMAT_VERSION:
        raise IndexMismatch(f"the index in {directory} was written by another version of dlcourse (format "
                            f"{manifest.get('version')}, this one reads {FORMAT_VERSION}); {rebuild_advice(directory)}.")
    vectors_path = directory / manifest["vectors_file"]
    entries = [Entry(**entry) for entry in manifest["entries"]]
    try:
        stored = faiss.read_index(str(vectors_path))
    except RuntimeError:
        raise IndexMismatch(f"the vectors of the index ({vectors_path}) are missing or damaged; "
                            f"{rebuild_advice(directory)}.") from None
    if stored.ntotal != len(entries) or stored.d != manifest["dim"]:
        raise IndexMismatch(f"{vectors_path} holds {stored.ntotal} vectors of size {stored.d}, the manifest lists "
                            f"{len(entries)} of size {manifest['dim']}; {rebuild_advice(directory)}.")
    vectors = stored.reconstruct_n(0, stored.ntotal) if stored.ntotal else np.zeros((0, stored.d), np.float32)
    return SearchIndex(directory, Path(manifest["root"]), manifest["embedder"], manifest["dim"], entries,
                       vectors, [tuple(item) for item in manifest.get("skipped", [])], _lite_record(manifest))


def _lite_record(manifest: dict) -> dict | None:
    """The manifest's record of the LiteRT copy of the embedder; None when there is none or it is malformed."""
    record = manifest.get("lite")
    fields = {"file": str, "sha256": str, "embedder": str, "image_size": int}
    if isinstance(record, dict) and all(isinstance(record.get(key), kind) for key, kind in fields.items()):
        return record
    return None


def save_index(index: SearchIndex) -> None:
    """Write the vectors to a new file, then atomically point the manifest at it; old vector files go last."""
    index.directory.mkdir(parents=True, exist_ok=True)
    vectors_file = f"vectors-{uuid.uuid4().hex[:12]}.faiss"
    write_bytes_atomically(index.directory / vectors_file, faiss.serialize_index(index.faiss_index()).tobytes())
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, "embedder": index.embedder, "dim": index.dim,
                "root": str(index.root), "vectors_file": vectors_file,
                "entries": [asdict(entry) for entry in index.entries], "skipped": [list(s) for s in index.skipped],
                "lite": index.lite}
    write_bytes_atomically(index.directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
    keep = {vectors_file, index.lite["file"] if index.lite else None}
    for old in [*index.directory.glob("vectors-*.faiss"), *index.directory.glob(f"{LITE_PREFIX}*{LITE_SUFFIX}")]:
        if old.name not in keep:
            old.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------
# Indexing a folder
# ---------------------------------------------------------------------------------------------------------

def index_folder(folder, index_dir=None, embedder=None, batch_size: int = 32, rebuild: bool = False,
                 progress: bool = True, checkpoint_images: int = CHECKPOINT_IMAGES) -> tuple[SearchIndex, UpdateReport]:
    """Index (or update the index of) every JPEG/PNG/WebP file under folder; returns the index and a report.

    index_dir defaults to <folder>/.dlcourse-search; embedder (images [0, 1] (N, S, S, 3) -> (N, D)) defaults to
    the ImageNet backbone. Files are read and embedded batch_size at a time, so memory stays bounded.
    """
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise SearchError(f"{folder} is not a folder: give the folder of photos to index.")
    directory = Path(index_dir).expanduser().resolve() if index_dir else folder / DEFAULT_INDEX_FOLDER
    embedder = embedder or default_embedder()
    files, ignored = find_images(folder, exclude=directory)
    if not files:
        raise SearchError(f"no JPEG, PNG or WebP files in {folder} or its subfolders ({ignored} other files "
                          "ignored): point the command at a folder of photos.")
    index = _existing_or_empty(directory, folder, embedder, rebuild)
    report = UpdateReport(ignored=ignored)
    todo = _plan_update(index, folder, files, report)
    _embed_files(index, folder, todo, embedder, batch_size, progress, checkpoint_images, report)
    if not index.entries:
        raise SearchError(f"none of the {len(files)} image files in {folder} could be read (first: "
                          f"{report.skipped[0][0]}: {report.skipped[0][1]}).")
    index.skipped = report.skipped
    save_index(index)
    if hasattr(embedder, "export_tflite") and lite_problem(index) is not None:
        start = time.perf_counter()
        write_lite_copy(index, embedder)
        report.lite_seconds = time.perf_counter() - start
        save_index(index)
    return index, report


def write_lite_copy(index: SearchIndex, embedder) -> None:
    """Convert the embedder to a .tflite file in the index folder and record it in index.lite (saved by the caller).

    The index is saved before this runs, so a failed conversion loses nothing; queries then use TensorFlow.
    """
    name = f"{LITE_PREFIX}{uuid.uuid4().hex[:12]}{LITE_SUFFIX}"
    with replacing(index.directory / name) as temporary:
        embedder.export_tflite(str(temporary))
    index.lite = {"file": name, "sha256": sha256_of(index.directory / name), "embedder": index.embedder,
                  "image_size": embedder_image_size(embedder)}


def lite_problem(index: SearchIndex) -> str | None:
    """Why the index's LiteRT copy of its embedder cannot be used, or None: absent, stale, missing, altered."""
    if not index.lite:
        return "this index has no LiteRT copy of its embedder (it was written by an older dlcourse)"
    if index.lite.get("embedder") != index.embedder:
        return f"the LiteRT copy of the embedder is of '{index.lite.get('embedder')}', not '{index.embedder}'"
    path = index.directory / index.lite["file"]
    if not path.is_file():
        return f"the LiteRT copy of the embedder, {path}, is missing"
    if sha256_of(path) != index.lite["sha256"]:
        return f"the LiteRT copy of the embedder, {path}, is damaged (its sha256 differs from the manifest's)"
    return None


def _existing_or_empty(directory: Path, folder: Path, embedder, rebuild: bool) -> SearchIndex:
    """The index already in directory (checked against folder and embedder), or an empty one."""
    name = embedder_name(embedder)
    if rebuild or not (directory / MANIFEST).exists():
        return SearchIndex(directory, folder, name, 0, [], np.zeros((0, 0), np.float32))
    index = load_index(directory)
    if index.root != folder:
        raise IndexMismatch(f"the index in {directory} belongs to the folder {index.root}, not {folder}: choose "
                            f"another --index, or {rebuild_advice(directory)}.")
    if index.embedder != name:
        raise IndexMismatch(f"the index in {directory} was built with the embedder '{index.embedder}', not "
                            f"'{name}'; vectors of two embedders cannot be compared: {rebuild_advice(directory)}.")
    return index


def _plan_update(index: SearchIndex, folder: Path, files: list[Path], report: UpdateReport) -> list[Entry]:
    """Drop deleted and changed files from the index (in place); returns the entries of the files to embed."""
    known = {entry.path: row for row, entry in enumerate(index.entries)}
    keep, todo = [], []
    for relative in files:
        stat = (folder / relative).stat()
        row = known.get(relative.as_posix())
        old = index.entries[row] if row is not None else None
        if old and (old.size, old.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            keep.append(row)
            continue
        digest = sha256_of(folder / relative)
        if old and old.sha256 == digest:
            keep.append(row)
            index.entries[row] = Entry(old.path, stat.st_size, stat.st_mtime_ns, digest)
            continue
        todo.append(Entry(relative.as_posix(), stat.st_size, stat.st_mtime_ns, digest))
        report.changed += old is not None
        report.added += old is None
    report.unchanged = len(keep)
    report.removed = len(index.entries) - len(keep) - report.changed
    index.entries = [index.entries[row] for row in keep]
    index.vectors = index.vectors[keep] if len(keep) else index.vectors[:0]
    return todo


def _embed_files(index: SearchIndex, folder: Path, todo: list[Entry], embedder, batch_size: int, progress: bool,
                 checkpoint_images: int, report: UpdateReport) -> None:
    """Read, embed and append the files of todo, batch by batch; unreadable files go to report.skipped."""
    from tqdm.auto import tqdm  # imported here: it looks for Jupyter's widgets, which a query need not wait for

    size = embedder_image_size(embedder)
    since_save = 0
    wall, cpu = time.perf_counter(), time.process_time()
    with tqdm(total=len(todo), unit="image", desc="embedding", disable=not progress or not todo) as bar:
        for start in range(0, len(todo), batch_size):
            batch, images = [], []
            for entry in todo[start:start + batch_size]:
                try:
                    images.append(read_image(folder / entry.path, size))
                    batch.append(entry)
                except ImageReadError as err:
                    report.skipped.append((entry.path, str(err).split(" is not an image ")[-1]))
            if images:
                _append(index, batch, embedder(np.stack(images)))
                since_save += len(batch)
                report.embedded += len(batch)
            bar.update(len(todo[start:start + batch_size]))
            if since_save >= checkpoint_images:
                save_index(index)
                since_save = 0
    report.embed_seconds, report.embed_cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu


def _append(index: SearchIndex, entries: list[Entry], embeddings) -> None:
    """Add entries and their embeddings (normalised here) to the index, checking the vector size."""
    vectors = l2_normalize(np.asarray(embeddings, dtype=np.float32))
    if vectors.ndim != 2 or len(vectors) != len(entries):
        raise SearchError(f"the embedder returned shape {vectors.shape} for {len(entries)} images; it must return "
                          "(N, D), one vector per image.")
    if index.dim and vectors.shape[1] != index.dim:
        raise IndexMismatch(f"the embedder returns vectors of size {vectors.shape[1]}, the index holds size "
                            f"{index.dim}; {rebuild_advice(index.directory)}.")
    index.dim = vectors.shape[1]
    index.vectors = vectors if not len(index.entries) else np.concatenate([index.vectors, vectors])
    index.entries = index.entries + entries


# ---------------------------------------------------------------------------------------------------------
# Searching
# ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Match:
    """One search result: the file, its cosine similarity to the query, and whether the file still exists."""

    path: Path
    score: float
    exists: bool


def check_embedder(index: SearchIndex, embedder) -> None:
    """IndexMismatch unless the embedder is the one the index was built with."""
    name = embedder_name(embedder)
    if name != index.embedder:
        raise IndexMismatch(f"the index in {index.directory} was built with the embedder '{index.embedder}'; "
                            f"searching it with '{name}' would compare unrelated vectors: use the same embedder, "
                            f"or {rebuild_advice(index.directory)}.")


def query_embedder(index: SearchIndex) -> tuple[object, str | None]:
    """The embedder to search an index with, and a one-line note when it is not the fast one.

    The index's LiteRT copy of its embedder when it is there and intact (no TensorFlow); otherwise the default
    Keras embedder, with a note saying why and how to get the fast one back.
    """
    problem = lite_problem(index)
    fallback = default_embedder()
    if problem is not None and index.embedder != embedder_name(fallback):
        return fallback, None  # built with another embedder from Python: check_embedder says what to do
    if problem is None:
        lite = index.lite
        try:
            return LiteEmbedder(index.directory / lite["file"], lite["sha256"], lite["embedder"],
                                lite["image_size"]), None
        except LiteModelError as err:
            problem = f"the LiteRT copy of the embedder cannot be used: {err}"
    return fallback, (f"note: {problem}; embedding the query with TensorFlow instead, which takes seconds to start. "
                      f"`dlcourse search index {index.root}` writes the fast copy again.")


def query_image(index: SearchIndex, image_path, k: int = 5, embedder=None) -> list[Match]:
    """The k indexed files most similar to an image file, best first (exact search).

    embedder None: query_embedder(index), its note (if any) given as a warning.
    """
    if embedder is None:
        embedder, note = query_embedder(index)
        if note:
            warnings.warn(note, stacklevel=2)
    check_embedder(index, embedder)
    if not len(index):
        raise SearchError(f"the index in {index.directory} is empty: index a folder of photos first.")
    try:
        image = read_image(Path(image_path), embedder_image_size(embedder))
    except ImageReadError as err:
        raise SearchError(f"the query {err}: give a JPEG, PNG or WebP photo.") from None
    vector = l2_normalize(np.asarray(embedder(image[None]), dtype=np.float32))
    scores, rows = index.faiss_index().search(vector, min(k, len(index)))
    return [Match(index.file(row), float(score), index.file(row).is_file()) for row, score in zip(rows[0], scores[0])]


def duplicate_groups(index: SearchIndex, threshold: float) -> list[list[tuple[int, float]]]:
    """Groups of indexed rows linked by cosine similarity above threshold (FAISS range search).

    Returns groups (largest first), each a list of (row, similarity to the group's first row), files that no
    longer exist left out.
    """
    present = np.array([index.file(row).is_file() for row in range(len(index))], dtype=bool)
    rows = np.flatnonzero(present)
    vectors = np.ascontiguousarray(index.vectors[rows], dtype=np.float32)
    flat = faiss.IndexFlatIP(index.dim)
    flat.add(vectors)
    limits, _, found = flat.range_search(vectors, float(threshold))
    queries = np.repeat(np.arange(len(rows)), np.diff(limits).astype(np.int64))
    pairs = np.stack([queries, found], axis=1)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    return [[(int(rows[m]), float(vectors[group[0]] @ vectors[m])) for m in group]
            for group in groups_from_pairs(pairs, len(rows))]
