"""A backfill file's lines as one buffer and their offsets, not a bytes object each.

Why: the Arrow fast path (:mod:`beam.arrow_readings`) reads a batch's payloads as one
newline-separated buffer, and the raw rows' payload column is one buffer and offsets
too. Splitting a file into a bytes object per line (60,480 for a skid-week) only to
join them again cost 25-40 ms of a ~0.6 s backfill; a file's text split into lines
with numpy is already that buffer, and a line becomes a bytes object only when
something asks for that one (pydantic's slow path, a dead letter).

Lines are split as ``ReadFromText`` splits them: at ``\\n`` or ``\\r\\n``, a last
line without a line end kept as it is, no empty line after a final line end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["BLOCK_BYTES", "FileLines", "binary_column", "line_batches"]

BLOCK_BYTES = 8 << 20
"""Bytes read from a file at a time (one numpy scan per few MB, not a Python step per
line)."""

_LF = ord("\n")
_CR = ord("\r")


@dataclass(frozen=True, eq=False)
class FileLines(Sequence[bytes]):
    """Lines of a file: line ``i`` is ``data[starts[i]:ends[i]]``.

    ``data`` holds the lines in order with a line end between each two (``\\n`` or
    ``\\r\\n``) and none after the last; so when it holds no ``\\r`` it is exactly
    ``b"\\n".join(lines)`` (:meth:`joined`).
    """

    data: bytes
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.starts)

    @overload
    def __getitem__(self, i: int) -> bytes: ...

    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...

    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            return list(self)[i]
        return self.data[self.starts[i] : self.ends[i]]

    def __iter__(self) -> Iterator[bytes]:
        data = self.data
        return iter(
            [data[s:e] for s, e in zip(self.starts.tolist(), self.ends.tolist(), strict=True)]
        )

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        """Bytes of each line (without its line end)."""
        return self.ends - self.starts

    def joined(self) -> bytes | None:
        """The lines joined by ``\\n`` (``data`` itself, no copy) when every line end
        is a ``\\n``; else None (a ``\\r`` somewhere: ``data`` may hold ``\\r\\n``)."""
        return None if b"\r" in self.data else self.data

    def column(self) -> pa.Array | None:
        """The lines as an Arrow ``large_binary`` array, ``data`` itself without its line
        ends plus offsets, when every line end is a ``\n``; else None (lines with
        ``\r\n`` ends are made one by one anyway: build from those needed)."""
        if self.joined() is None:
            return None
        n = len(self)
        offsets = np.zeros(n + 1, dtype=np.int64)
        # Without the n - 1 line ends: line i moves back by the i line ends before it.
        offsets[:-1] = self.starts - np.arange(n)
        offsets[-1] = len(self.data) - (n - 1) if n else 0
        return _binary_array(offsets, self.data.replace(b"\n", b""))


def binary_column(values: Sequence[bytes]) -> pa.Array:
    """Byte strings as an Arrow ``large_binary`` array built from one joined buffer and
    its offsets (converting 10,000 byte strings one by one cost 2-50 ms, the most in a
    process's first batches, against ~1 ms)."""
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    return _binary_array(offsets, b"".join(values))


def _binary_array(offsets: npt.NDArray[np.int64], values: bytes) -> pa.Array:
    return pa.Array.from_buffers(
        pa.large_binary(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(values)]
    )


def line_batches(
    fh: IO[bytes], batch_lines: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[FileLines]:
    """The lines of an open file, ``batch_lines`` a batch (the last fewer), read
    ``block_bytes`` at a time. Lines not batched yet at the end of a block (fewer
    than a batch, and a line not ended yet) are read again with the next: each
    batch's bytes are then copied once, from one block."""
    rest = b""
    while block := fh.read(block_bytes):
        text = rest + block
        ended = text.rfind(b"\n") + 1
        starts, ends = _bounds(text, ended)
        whole = len(starts) - len(starts) % batch_lines
        for first in range(0, whole, batch_lines):
            yield _cut(text, starts[first : first + batch_lines], ends[first : first + batch_lines])
        rest = text[starts[whole] :] if whole < len(starts) else text[ended:]
    starts, ends = _bounds(rest, len(rest))
    if len(starts):  # fewer than batch_lines ended lines before, and maybe one not ended
        yield _cut(rest, starts, ends)


def _bounds(text: bytes, stop: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Where each line of ``text[:stop]`` starts and ends, as ``ReadFromText`` splits
    a file: at ``\\n`` or ``\\r\\n``; a last line without a line end kept as it is
    (``\\r`` and all); no empty line after a final line end."""
    codes = np.frombuffer(text, dtype=np.uint8, count=stop)
    newlines = np.flatnonzero(codes == _LF)
    starts = np.zeros(len(newlines) + 1, dtype=np.int64)
    starts[1:] = newlines + 1
    ends = np.empty_like(starts)
    # A \r right before a \n is part of the line end (when the line has a byte).
    carriage = (newlines > starts[:-1]) & (codes[newlines - 1] == _CR)
    ends[:-1] = newlines - carriage
    ends[-1] = stop
    if starts[-1] == stop:  # nothing after the final line end
        return starts[:-1], ends[:-1]
    return starts, ends


def _cut(text: bytes, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]) -> FileLines:
    """The lines at ``starts``/``ends`` of ``text`` (one or more, in order) with a copy
    of their bytes only (a batch pickled between stages carries no more than its
    own)."""
    first = int(starts[0])
    return FileLines(text[first : int(ends[-1])], starts - first, ends - first)
