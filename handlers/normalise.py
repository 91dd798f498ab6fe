"""Normal forms of respondent names and addresses, so that "武汉 某某化工有限公司" and
"武汉某某化工有限公司（）" count as the same party when looking for repeat complaints."""

from __future__ import annotations

import unicodedata


def normal_key(text: str | None) -> str | None:
    """NFKC (full-width to half-width), case-folded, with spaces, punctuation and symbols
    removed; None when nothing is left, so empty values never match each other."""
    if not text:
        return None
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] not in {"Z", "P", "S", "C"})
    return kept or None
