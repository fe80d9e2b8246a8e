"""Languages: the one catalogue of every text staff read, in Chinese and English.

See :mod:`matching.i18n.catalogue`.
"""

from matching.i18n.catalogue import (
    LANGUAGE_NAMES,
    LANGUAGES,
    N_,
    Language,
    check_language,
    current_language,
    default_language,
    gettext,
    ngettext,
    set_language,
    use_language,
)

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
