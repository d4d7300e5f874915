"""Files replaced atomically: a reader sees the old content or the new one, never half of it.

Everything the course keeps for a person (labels, a search index, cached weights and features) is written to a
temporary file in the same folder, flushed to disk, then renamed over the target with ``os.replace``. A crash or
an error half-way leaves the previous file as it was and no temporary file behind.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def replacing(path, suffix: str = ""):
    """Yield a temporary path beside path; when the block ends without an error it is fsync'ed and renamed over path.

    suffix is the temporary file's ending, for writers that insist on one (Keras wants ``.weights.h5``). On an
    error the temporary file is removed and path is untouched.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    temporary = Path(temporary)
    try:
        yield temporary
        flush_to_disk(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def flush_to_disk(path: Path) -> None:
    """fsync a file that another writer has closed."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def write_bytes_atomically(path, data: bytes) -> None:
    """Replace path's content with data (see :func:`replacing`)."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)


def write_text_atomically(path, text: str) -> None:
    """Replace path's content with text, UTF-8 (see :func:`replacing`)."""
    write_bytes_atomically(path, text.encode("utf-8"))
