"""One text in English and Russian (``{"en": …, "ru": …}``) put in words: the lookup every table of texts
shares (``texts.CATALOGUE``, ``numeric_texts``, the feature modules), so it is written once. A language a
text lacks falls back to English.
"""
from __future__ import annotations

Entry = dict[str, str]


def in_language(entry: Entry, lang: str) -> str:
    return entry.get(lang, entry["en"])


def worded(entry: Entry, lang: str, *args: object, **values: object) -> str:
    """``entry`` in ``lang`` with its ``{0}``… and ``{name}`` fields filled in."""
    return in_language(entry, lang).format(*args, **values)
