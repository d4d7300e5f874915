"""The plain data a sandboxed run hands back to the grader: one JSON document and one .npz of arrays.

Outputs of the student's functions are first turned into plain values by ``checks.core.to_plain`` (float64
arrays and tuples of them). :func:`encode` stores such a value as a small JSON structure naming arrays kept
aside; :func:`decode` rebuilds it. Nothing here pickles: the grader reads the files with
``np.load(allow_pickle=False)`` and checks every size and type, because the sandbox wrote them.
"""
from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_FILE = "results.json"
ARRAYS_FILE = "arrays.npz"
MAX_RESULTS_BYTES = 64 * 2**20
MAX_ARRAYS_BYTES = 512 * 2**20


class PlainDataError(ValueError):
    """What the sandbox handed back is missing, malformed or too large."""


def encode(value: Any, arrays: list[np.ndarray]) -> dict:
    """JSON structure for a plain value; its arrays are appended to arrays and named by position."""
    if isinstance(value, tuple):
        return {"tuple": [encode(part, arrays) for part in value]}
    arrays.append(np.asarray(value, dtype=np.float64))
    return {"array": f"a{len(arrays) - 1}"}


def decode(structure: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The plain value an encoded structure describes; PlainDataError when it is not one."""
    if isinstance(structure, dict) and set(structure) == {"tuple"} and isinstance(structure["tuple"], list):
        if not structure["tuple"]:
            raise PlainDataError("an empty tuple is not a plain value")
        return tuple(decode(part, arrays) for part in structure["tuple"])
    if isinstance(structure, dict) and set(structure) == {"array"} and structure["array"] in arrays:
        return arrays[structure["array"]]
    raise PlainDataError(f"not an encoded value: {str(structure)[:80]}")


def write(folder: Path, document: dict, arrays: list[np.ndarray]) -> None:
    """Store the arrays, then the document (each written aside and renamed into place)."""
    _replace(folder / ARRAYS_FILE, lambda handle: np.savez(handle, **{f"a{i}": a for i, a in enumerate(arrays)}))
    _replace(folder / RESULTS_FILE, lambda handle: handle.write(json.dumps(document).encode()))


def _replace(path: Path, fill) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        fill(handle)
    os.replace(partial, path)


def read(folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The document and arrays a run left in folder, read without following links; PlainDataError if unusable."""
    document = json.loads(_read_regular_file(folder, RESULTS_FILE, MAX_RESULTS_BYTES))
    if not isinstance(document, dict):
        raise PlainDataError(f"{RESULTS_FILE} does not hold a JSON object")
    return document, load_arrays(_read_regular_file(folder, ARRAYS_FILE, MAX_ARRAYS_BYTES))


def _read_regular_file(folder: Path, name: str, limit: int) -> bytes:
    """Bytes of folder/name; neither may be a symbolic link (the sandbox could point them anywhere)."""
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as err:
        raise PlainDataError(f"no output folder ({err.strerror})") from None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError as err:
        raise PlainDataError(f"{name} is missing ({err.strerror})") from None
    finally:
        os.close(folder_fd)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise PlainDataError(f"{name} is not a regular file of at most {limit} bytes")
        return handle.read(limit + 1)


def load_arrays(data: bytes, extra: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays of .npz bytes, every one float64 except those named in extra; PlainDataError otherwise."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile as err:
        raise PlainDataError(f"{ARRAYS_FILE} is not a zip file ({err})") from None
    if unpacked > MAX_ARRAYS_BYTES:
        raise PlainDataError(f"{ARRAYS_FILE} unpacks to more than {MAX_ARRAYS_BYTES} bytes")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        raise PlainDataError(f"{ARRAYS_FILE} is not a readable .npz file ({err})") from None
    for name, array in arrays.items():
        if array.dtype != np.float64 and name not in extra:
            raise PlainDataError(f"array {name} has dtype {array.dtype}, expected float64")
    return arrays
