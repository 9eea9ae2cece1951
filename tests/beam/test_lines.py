"""A backfill file's lines as one buffer and offsets, against ``ReadFromText``.

Independent truth: Beam's ``ReadFromText`` (what the identity pipeline of the
benchmark reads, and what the backfill's line splitting promises), run on tricky
files; and, on generated files, the splitter the backfill had before (a
``bytes.split`` per block), which made a bytes object per line.
"""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.io.textio import ReadFromText
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from beam.batches import BatchCoder, MessageBatch
from beam.lines import FileLines, line_batches
from beam.pipeline import _ReadLineBatchesFn

_TRICKY = {
    "crlf": b'{"a": 1}\r\n{"b": 2}\r\n',
    "no_final_newline": b"first\nsecond",
    "empty_lines": b"\n\nfirst\n\n\nsecond\n\n",
    "crlf_empty_lines": b"\r\n\r\nfirst\r\n\r\n",
    "lone_cr_inside": b"a\rb\nc\r\rd\r\n",
    "cr_before_crlf": b"a\r\r\nb\r\r\n",
    "final_lone_cr": b"one\r\ntwo\r",
    "only_cr": b"\r",
    "only_newline": b"\n",
    "only_newlines": b"\n\n\n",
    "crlf_without_line": b"\r\n",
    "empty": b"",
    "non_ascii": "caf\u00e9\nna\u00efve\r\n\u2603 snow\n".encode(),
    "not_utf8": b"\xff\xfe\n\xc3\n\x00nul\n",
    "mixed": b"x\ny\r\n\rz\n\r\n\n" + b"long " * 40 + b"\r\n" + b"end",
}

_BLOCKS = (1, 2, 3, 7, 1 << 20)
"""Block sizes: every cut through a line and a \\r\\n, and the whole file at once."""


def _lines(content: bytes, batch_lines: int, block_bytes: int) -> list[FileLines]:
    return list(line_batches(io.BytesIO(content), batch_lines, block_bytes))


def test_tricky_files_are_split_as_read_from_text_splits_them(tmp_path: Path) -> None:
    """Every file, at every block size and batch size: the same lines in the same
    order, full batches but the last."""
    got = {}
    for name, content in _TRICKY.items():
        (tmp_path / name).write_bytes(content)
        for block_bytes in _BLOCKS:
            for batch_lines in (1, 2, 3, 10_000):
                batches = _lines(content, batch_lines, block_bytes)
                assert all(len(b) == batch_lines for b in batches[:-1]), (name, block_bytes)
                assert all(len(b) for b in batches)
                lines = [line for b in batches for line in b]
                got.setdefault(name, lines)
                assert lines == got[name], (name, block_bytes, batch_lines)
    with TestPipeline(runner="FnApiRunner") as p:
        for name in _TRICKY:
            read = p | f"Read_{name}" >> ReadFromText(
                str(tmp_path / name), coder=beam.coders.BytesCoder()
            )
            assert_that(read, equal_to(got[name]), label=f"Check_{name}")
    # What ReadFromText gives, so that the list above cannot all be trivially empty.
    assert got["final_lone_cr"] == [b"one", b"two\r"]
    assert got["cr_before_crlf"] == [b"a\r", b"b\r"]
    assert got["only_newlines"] == [b"", b"", b""]
    assert got["empty"] == []


def test_the_backfill_reads_a_file_as_line_batches(tmp_path: Path) -> None:
    """The DoFn reads through Beam's file systems, compressed files by their
    extension, with the block size given."""
    content = _TRICKY["mixed"] * 5
    expected = [line for b in _lines(content, 10_000, 1 << 20) for line in b]
    plain = tmp_path / "lines.jsonl"
    plain.write_bytes(content)
    packed = tmp_path / "lines.jsonl.gz"
    with gzip.open(packed, "wb") as fh:
        fh.write(content)
    for path in (plain, packed):
        batches = list(_ReadLineBatchesFn(batch_lines=4, block_bytes=5).process(str(path)))
        assert [len(b) for b in batches] == [4] * (len(expected) // 4) + [len(expected) % 4]
        assert [line for b in batches for line in b.payloads] == expected


def _old_lines(content: bytes, block_bytes: int) -> list[bytes]:
    """The splitter the backfill had before (``beam/pipeline.py``, a bytes object per
    line): a ``bytes.split`` per block, ``\\r`` stripped before each ``\\n``, and
    also, unlike ``ReadFromText``, at the end of a last line without a ``\\n``."""
    fh = io.BytesIO(content)
    out: list[bytes] = []
    rest = b""
    while block := fh.read(block_bytes):
        text = rest + block
        lines = text.split(b"\n")
        rest = lines.pop()
        out += [line[:-1] if line.endswith(b"\r") else line for line in lines]
    if rest:
        out.append(rest[:-1] if rest.endswith(b"\r") else rest)
    return out


_PIECES = st.sampled_from(
    [b"a", b"{}", b" ", b"\n", b"\r", b"\r\n", b"\\", "\u00e9".encode(), b"\xff", b"\t"]
)


@settings(max_examples=300, deadline=None)
@given(
    content=st.lists(_PIECES, max_size=60).map(b"".join),
    block_bytes=st.integers(1, 16),
    batch_lines=st.integers(1, 5),
)
def test_buffer_batches_hold_the_old_splitters_lines(
    content: bytes, block_bytes: int, batch_lines: int
) -> None:
    """The lines the old splitter gave, in batches of ``batch_lines``, each batch's
    buffer, offsets, joined text, Arrow column and size consistent with its lines."""
    expected = _old_lines(content, block_bytes)
    if content.endswith(b"\r"):  # ReadFromText keeps it; the old splitter did not
        expected[-1] += b"\r"
    batches = _lines(content, batch_lines, block_bytes)
    assert [line for b in batches for line in b] == expected
    assert [len(b) for b in batches] == [
        min(batch_lines, len(expected) - i) for i in range(0, len(expected), batch_lines)
    ]
    for lines in batches:
        listed = list(lines)
        assert [lines[i] for i in range(-len(lines), len(lines))] == listed + listed
        joined = lines.joined()
        assert joined is None or joined == b"\n".join(listed)
        assert joined is not None or b"\r" in content
        column = lines.column()
        assert (column is None) == (joined is None)
        assert column is None or column.to_pylist() == listed
        assert lines.lengths.tolist() == [len(line) for line in listed]
        assert MessageBatch(lines).nbytes == sum(map(len, listed))


def test_a_line_batch_crosses_stages_as_its_own_bytes() -> None:
    """A batch carries a copy of its own lines' bytes, not the block it was cut from,
    and comes back from the runner's coder equal."""
    content = b"".join(b"line %d\r\n" % i for i in range(100))
    first, *_ = _lines(content, 10, 1 << 20)
    assert len(first.data) == len(b"".join(b"line %d\r\n" % i for i in range(10))) - 2
    coder = BatchCoder()
    again = coder.decode(coder.encode(MessageBatch(first)))
    assert list(again.payloads) == list(first) == [b"line %d" % i for i in range(10)]
    assert coder.estimate_size(MessageBatch(first)) == sum(map(len, first))
    assert pickle.loads(pickle.dumps(first)).starts.tolist() == first.starts.tolist()


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"])
def test_only_newline_separated_lines_come_joined(line_end: bytes) -> None:
    """The fast path may read a batch's buffer as is only when it is the lines joined
    by newlines: not when a \\r\\n ends any of them."""
    (lines,) = _lines(line_end.join([b"a", b"b", b"c"]), 10, 1 << 20)
    assert list(lines) == [b"a", b"b", b"c"]
    assert lines.joined() == (b"a\nb\nc" if line_end == b"\n" else None)
