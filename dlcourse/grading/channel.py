"""The one channel between a grading run and the grader: framed messages on a pipe, in both directions.

Runner to grader (the runner's original stdout): ``@cell N`` when cell N starts, ``@record GRADE_ID`` (JSON:
which functions a test found, and where they were defined), ``@harvest GRADE_ID`` (send me the cases),
``@value I`` (the plain output of case I, an .npz of float64 arrays and a JSON structure), ``@error I``
(why case I has no output), ``@done`` (results written). Grader to runner (its stdin): the cases of a
harvest, pickled by the grader. Each frame is a header line ``@kind arg length`` and ``length`` bytes.

Everything the runner sends is untrusted: :class:`FrameReader` bounds every header and payload, and the
values are decoded by :func:`decode_value` with ``allow_pickle=False``; a frame the grader did not ask for
is ignored. The grader's cases are pickled in the grader and unpickled in the sandbox: that direction
carries trusted data only.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass

import cloudpickle
import numpy as np

from . import plain

MAX_HEADER = 256
MAX_VALUE_BYTES = 64 * 2**20  # one case's output; a larger one fails that case only
MAX_RECORD_BYTES = 2**20
KINDS = ("cell", "record", "harvest", "value", "error", "done", "cases")


@dataclass(frozen=True)
class Frame:
    """One message: its kind, its argument, and its payload (None when it was too large to keep)."""

    kind: str
    arg: str
    payload: bytes | None
    size: int


def write_frame(fd: int, kind: str, arg: str = "-", payload: bytes = b"") -> None:
    """Send one frame on fd (all of it, even when the pipe takes it in pieces)."""
    data = f"@{kind} {arg} {len(payload)}\n".encode() + payload
    while data:
        data = data[os.write(fd, data):]


class FrameReader:
    """Frames out of a byte stream fed in chunks; malformed headers are skipped, big payloads dropped."""

    def __init__(self, max_payload: int = MAX_VALUE_BYTES):
        self.max_payload = max_payload
        self.buffer = b""
        self.header: tuple[str, str, int] | None = None
        self.kept: list[bytes] = []
        self.remaining = 0

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames completed by chunk."""
        self.buffer += chunk
        frames: list[Frame] = []
        while True:
            if self.header is None and not self._read_header():
                return frames
            if self.header is not None:
                frame = self._read_payload()
                if frame is None:
                    return frames
                frames.append(frame)

    def _read_header(self) -> bool:
        end = self.buffer.find(b"\n")
        if end < 0:
            self.buffer = self.buffer[-MAX_HEADER:]
            return False
        line, self.buffer = self.buffer[:end].decode(errors="replace"), self.buffer[end + 1:]
        words = line.split()
        if len(words) == 3 and words[0][:1] == "@" and words[0][1:] in KINDS and words[2].isdigit() \
                and len(line) <= MAX_HEADER:
            self.header, self.remaining, self.kept = (words[0][1:], words[1], int(words[2])), int(words[2]), []
        return True

    def _read_payload(self) -> Frame | None:
        kind, arg, size = self.header
        taken, self.buffer = self.buffer[:self.remaining], self.buffer[self.remaining:]
        self.remaining -= len(taken)
        if size <= self.max_payload:
            self.kept.append(taken)
        if self.remaining:
            return None
        self.header = None
        return Frame(kind, arg, b"".join(self.kept) if size <= self.max_payload else None, size)


def encode_value(value) -> bytes:
    """A plain value (float64 arrays, tuples of them) as .npz bytes: arrays a0..aN and its JSON structure."""
    arrays: list[np.ndarray] = []
    structure = plain.encode(value, arrays)
    buffer = io.BytesIO()
    np.savez(buffer, structure=np.array(json.dumps(structure)), **{f"a{i}": a for i, a in enumerate(arrays)})
    return buffer.getvalue()


def decode_value(payload: bytes):
    """The plain value encode_value stored; PlainDataError for anything else."""
    arrays = plain.load_arrays(payload, extra=("structure",))
    structure = arrays.pop("structure")
    if structure.dtype.kind != "U" or structure.shape != ():
        raise plain.PlainDataError("the value's structure is not a string")
    try:
        parsed = json.loads(str(structure))
    except ValueError as err:
        raise plain.PlainDataError(f"the value's structure is not JSON ({err})") from None
    return plain.decode(parsed, arrays)


def encode_cases(cases: list) -> bytes:
    """The grader's cases for one harvest (trusted data: pickled by value so that their functions travel)."""
    return cloudpickle.dumps(cases)


def read_cases(fd: int) -> list:
    """In the runner: the cases the grader sent for the harvest just requested."""
    reader = FrameReader(max_payload=2**31)
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError("the grader closed the channel")
        for frame in reader.feed(chunk):
            return cloudpickle.loads(frame.payload)
