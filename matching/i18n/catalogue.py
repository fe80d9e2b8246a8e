"""The message catalogue: every text staff read, in Chinese and English.

Texts are written in the code in English and marked for the catalogue:
:func:`gettext` (imported as ``_``) translates a message when it is used,
:func:`N_` marks a message kept in a table to be translated later, and
:func:`ngettext` picks the singular or plural form.  The Chinese texts live
in the gettext catalogue ``matching/i18n/locale/zh/LC_MESSAGES/matching.po``
(English ``msgid``, Chinese ``msgstr``), compiled to ``matching.mo`` with
Babel (``pybabel compile -D matching -d matching/i18n/locale``); English is
the ``msgid`` itself.  A test checks that every marked message has its
Chinese text and that the compiled file matches the catalogue.

The language of a text is, in order: the ``language`` argument, the
language set by :func:`use_language` (or :func:`set_language`), and the
locale (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``zh*`` means
Chinese, anything else English).
"""

from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

__all__ = [
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "N_",
    "Language",
    "check_language",
    "current_language",
    "default_language",
    "gettext",
    "ngettext",
    "set_language",
    "use_language",
]


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it (it is translated where used)."""
    return message


Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
"""The languages of the catalogue: Chinese (``"zh"``) and English (``"en"``)."""

LANGUAGE_NAMES: dict[Language, str] = {"zh": N_("Chinese"), "en": N_("English")}
"""The name of each language (translate it with :func:`gettext`)."""

DOMAIN = "matching"
LOCALE_DIR = Path(__file__).with_name("locale")

_LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
_CURRENT: contextvars.ContextVar[Language | None] = contextvars.ContextVar(
    "matching_language", default=None
)
_PROCESS: list[Language | None] = [None]  # set_language's choice, seen by every thread


def check_language(value: object, *, parameter: str = "language") -> Language:
    """``value`` as a language of the catalogue, or a ``ConfigError`` naming ``parameter``.

    Case and a region (``zh_CN``, ``zh-CN``, ``en_US``) are accepted.

    Examples
    --------
    >>> check_language("zh_CN"), check_language("EN")
    ('zh', 'en')
    """
    if isinstance(value, str):
        code = value.strip().replace("-", "_").split("_")[0].lower()
        if code in LANGUAGES:
            return code
    from matching.errors import ConfigError  # errors.py uses this module: imported here

    shown = repr(value) if isinstance(value, str) else f"a {type(value).__name__}"
    raise ConfigError(f"The {parameter!r} parameter must be 'zh' or 'en', got {shown} instead.")


def default_language() -> Language:
    """The language the locale asks for: ``"zh"`` for a Chinese locale, else ``"en"``.

    Reads the environment variables gettext reads (``LANGUAGE``, ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``), the first one set.
    """
    for name in _LOCALE_VARIABLES:
        value = os.environ.get(name, "")
        if value:
            first = value.split(":")[0]  # LANGUAGE may list several
            return "zh" if first.lower().startswith("zh") else "en"
    return "en"


def current_language() -> Language:
    """The language texts are written in now (see the module's documentation)."""
    return _CURRENT.get() or _PROCESS[0] or default_language()


def set_language(language: str | None) -> Language | None:
    """Set the language of every later text in this process (``None``: follow the locale).

    Seen by every thread (a :func:`use_language` block is seen by its own
    thread only).  For notebooks and scripts; a library calling another
    should prefer :func:`use_language`, which is undone when its block ends.
    Returns the setting it replaced, to put back.
    """
    previous = _PROCESS[0]
    _PROCESS[0] = None if language is None else check_language(language)
    return previous


@contextmanager
def use_language(language: str | None) -> Iterator[Language]:
    """Write texts in ``language`` inside the ``with`` block (``None``: leave it as it is).

    Examples
    --------
    >>> with use_language("zh"):
    ...     gettext("Chinese")
    '中文'
    >>> with use_language("en"):
    ...     gettext("Chinese")
    'Chinese'
    """
    if language is None:
        yield current_language()
        return
    token = _CURRENT.set(check_language(language))
    try:
        yield _CURRENT.get() or "en"
    finally:
        _CURRENT.reset(token)


@functools.cache
def _translations(language: Language) -> _gettext.NullTranslations:
    if language == "en":
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[language])


def gettext(message: str, language: str | None = None) -> str:
    """``message`` (English, as written in the code) in ``language`` (default: the current one).

    A message without a Chinese text stays English (the catalogue test
    fails on it).

    Examples
    --------
    >>> gettext("Chinese", "zh"), gettext("English", "en")
    ('中文', 'English')
    """
    lang = current_language() if language is None else check_language(language)
    return _translations(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int, language: str | None = None) -> str:
    """The singular or plural form of a message for the count ``n``, in ``language``.

    Examples
    --------
    >>> ngettext("{n} problem", "{n} problems", 2, "en").format(n=2)
    '2 problems'
    """
    lang = current_language() if language is None else check_language(language)
    return _translations(lang).ngettext(singular, plural, n)
