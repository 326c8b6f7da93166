"""An XDMF index that grows by appending and is well formed at every moment, kills included.

A write to a file is all or nothing under SIGKILL only while it stays inside one page:
the kernel copies a write page by page and stops between pages when the process is
killed. So the index never relies on a write that crosses a page boundary. Behind the
document's closing tags it keeps a processing instruction, ``<?bmf-pad ...?>``, whose
body is free space (XML allows processing instructions after the root element, and
their body may hold any text without ``?>``). A new grid with the closing tags and a
new ``<?bmf-pad `` opening

- is written over the old closing tags in one write when it fits in their page;
- otherwise is written into the free space from the next page on (hidden in the
  processing instruction, page by page) and then revealed by one write that blanks the
  old closing tags up to that page.

The file grows by whole pages, each added as a second processing instruction before the
first one's end is blanked. Closing the index trims the free space, so a finished run's
index ends with ``</Xdmf>``.
"""

from __future__ import annotations

import os
from pathlib import Path

PAGE = 4096  # the unit a killed write is cut at (larger pages are multiples of it)
TAIL = b"</Grid>\n</Domain>\n</Xdmf>\n"
OPEN = b"<?bmf-pad "
CLOSE = b"?>\n"
CLOSING = TAIL + OPEN  # what follows the last grid while the index is open


def document(text: str) -> str:
    """The XML document of an index's text: everything up to its closing tags, or ""
    when the index was cut short by something else than a kill."""
    end = text.find(TAIL.decode())
    return "" if end < 0 else text[: end + len(TAIL)]


class AppendableIndex:
    """An index file opened for appending grids (rank 0 only)."""

    def __init__(self, path: Path, head: str):
        """Write ``head`` (the document up to its closing tags) under a temporary name and
        rename it into place, with free space after it."""
        body = head.encode()
        body += b" " * _padding(len(body), len(CLOSING))
        self._tail_at = len(body)
        body += CLOSING
        self._end = (len(body) // PAGE + 2) * PAGE
        body += b" " * (self._end - len(body) - len(CLOSE)) + CLOSE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(body)
        os.replace(tmp, path)
        self._fd: int | None = os.open(path, os.O_WRONLY)

    def append(self, grid: str) -> None:
        """Add ``grid`` (complete elements) before the closing tags."""
        data = grid.encode()
        at = self._tail_at
        page_end = (at // PAGE + 1) * PAGE
        if at + len(data) + len(CLOSING) <= page_end:
            self._make_room(at + len(data) + len(CLOSING))
            os.pwrite(self._fd, data + CLOSING, at)
            self._tail_at = at + len(data)
            return
        block = data + b" " * _padding(page_end + len(data), len(CLOSING))
        tail_at = page_end + len(block)
        block += CLOSING
        self._make_room(page_end + len(block))
        for start in range(0, len(block), PAGE):  # hidden in the free space
            os.pwrite(self._fd, block[start : start + PAGE], page_end + start)
        os.pwrite(self._fd, b" " * (page_end - at), at)  # revealed
        self._tail_at = tail_at

    def close(self) -> None:
        """Trim the free space: the file ends with the closing tags."""
        if self._fd is not None:
            os.ftruncate(self._fd, self._tail_at + len(TAIL))
            os.close(self._fd)
            self._fd = None

    def _make_room(self, needed: int) -> None:
        """Grow the free space by whole pages until it reaches past ``needed``."""
        while self._end - len(CLOSE) < needed:
            page = OPEN + b" " * (PAGE - len(OPEN) - len(CLOSE)) + CLOSE
            os.pwrite(self._fd, page, self._end)
            os.pwrite(self._fd, b" " * len(CLOSE), self._end - len(CLOSE))
            self._end += PAGE


def _padding(at: int, size: int) -> int:
    """Spaces to put at ``at`` so that ``size`` bytes after them stay inside one page."""
    offset = at % PAGE
    return 0 if offset + size <= PAGE else PAGE - offset
