"""Telling a full disk from other write errors, so the command line can exit 3 and say where."""

from __future__ import annotations

from pathlib import Path


def disk_full_file(error: BaseException) -> str | None:
    """The file a write failed on for lack of space ("" when unknown); None otherwise."""
    import errno
    import re

    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return str(error.filename or "")
    text = str(error)
    if isinstance(error, RuntimeError) and (
        "No space left on device" in text or "errno 28" in text.lower()
    ):
        match = re.search(r"(/[^\s'\"]+)", text)
        return match.group(1) if match else ""
    # Writers that do not pass errno on (ADIOS2: "couldn't close file F"): the file
    # system of the file they name has no space left.
    named = getattr(error, "filename", None) or next(iter(re.findall(r"(/[^\s'\",]+)", text)), None)
    if isinstance(error, OSError | RuntimeError) and named:
        return named if _full(named) else None
    return None


def _full(path: str) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing parent) is full."""
    import os

    place = Path(path)
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        stat = os.statvfs(place)
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < 64 * 1024
