"""Close matches for misspelt names: the one "did you mean" every error message uses."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # difflib's similarity ratio below which a name is not offered


def closest(word: object, candidates: Iterable[str], count: int = 1) -> list[str]:
    """Up to `count` candidates closest to `word`, ignoring case; an exact match first."""
    if not isinstance(word, str):
        return []
    by_lower = {candidate.lower(): candidate for candidate in candidates}
    if word.lower() in by_lower:
        return [by_lower[word.lower()]]
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=count, cutoff=CUTOFF)
    return [by_lower[match] for match in matches]


def did_you_mean(
    word: object, candidates: Iterable[str], prefix: str = "", quote: bool = False
) -> str:
    """' (did you mean prefix+match?)' for the closest candidate, or ''."""
    match = closest(word, candidates)
    if not match:
        return ""
    shown = f'"{match[0]}"' if quote else f"{prefix}{match[0]}"
    return f" (did you mean {shown}?)"
