"""The appendable XDMF index parses at every moment, a kill in the middle of any write
included (a killed write keeps whole pages only)."""

from __future__ import annotations

import os
import random
import xml.etree.ElementTree as ET

import pytest

from bmf_fem import xdmf_index
from bmf_fem.xdmf_index import PAGE, AppendableIndex, document

HEAD = '<?xml version="1.0"?>\n<Xdmf Version="3.0">\n<Domain>\n<Grid Name="fields">\n'


def grid(index: int, size: int) -> str:
    return f'<Grid Name="g{index}" Info="{"x" * size}"></Grid>\n'


def names(data: bytes) -> list[str]:
    """The grids a reader finds in the file's bytes (ParseError if it is not XML)."""
    root = ET.fromstring(data)
    return [child.get("Name") for child in root.find("Domain").find("Grid")]


def record_writes(monkeypatch) -> list[tuple[int, bytes]]:
    writes: list[tuple[int, bytes]] = []
    real = os.pwrite

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        writes.append((offset, bytes(data)))
        return real(fd, data, offset)

    monkeypatch.setattr(xdmf_index.os, "pwrite", pwrite)
    return writes


def apply(state: bytearray, offset: int, data: bytes) -> None:
    end = offset + len(data)
    if len(state) < end:
        state.extend(b"\0" * (end - len(state)))
    state[offset:end] = data


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_state_a_kill_can_leave_parses_and_holds_the_grids_written(
    tmp_path, monkeypatch, seed
):
    rng = random.Random(seed)
    path = tmp_path / "fields.xdmf"
    writes = record_writes(monkeypatch)
    index = AppendableIndex(path, HEAD + grid(0, 50))
    state = bytearray(path.read_bytes())
    assert names(bytes(state)) == ["g0"]
    appended = ["g0"]
    for i in range(1, 60):
        writes.clear()
        index.append(grid(i, rng.choice([10, 300, 1500, 3900, 5000, 9000])))
        before = list(appended)
        for offset, data in writes:
            # A kill keeps such a write whole or drops it: it stays inside one page.
            assert offset // PAGE == (offset + len(data) - 1) // PAGE
            apply(state, offset, data)
            assert names(bytes(state)) in (before, [*before, f"g{i}"])
        appended.append(f"g{i}")
        assert bytes(state) == path.read_bytes()
        assert names(bytes(state)) == appended
    index.close()
    final = path.read_bytes()
    assert final.endswith(b"</Xdmf>\n")
    assert names(final) == appended
    assert document(final.decode()) == final.decode()


def test_a_write_across_a_page_would_be_caught(tmp_path):
    """Why writes stay inside a page: one write of a grid and the closing tags across a
    page boundary, cut there by a kill, leaves an index that does not parse."""
    head = (HEAD + grid(0, PAGE - len(HEAD) - 60)).encode()
    tail = b"</Grid>\n</Domain>\n</Xdmf>\n"
    state = bytearray(head + tail)
    data = grid(1, 200).encode() + tail
    cut = (len(head) // PAGE + 1) * PAGE
    assert len(head) < cut < len(head) + len(data)
    apply(state, len(head), data[: cut - len(head)])
    with pytest.raises(ET.ParseError):
        names(bytes(state[:cut]))


def test_document_ends_at_the_closing_tags():
    text = HEAD + grid(0, 5) + "</Grid>\n</Domain>\n</Xdmf>\n<?bmf-pad " + grid(1, 5) + " ?>\n"
    assert document(text).endswith("</Xdmf>\n")
    assert "g1" not in document(text)
    assert document(HEAD + grid(0, 5)) == ""
