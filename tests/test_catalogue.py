"""The message catalogue: every marked message has its Chinese text, and the
compiled catalogue the package loads is the one in ``matching.po``."""

from __future__ import annotations

import gettext
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import matching
from matching.i18n import catalogue
from matching.i18n import gettext as translate

PACKAGE = Path(matching.__file__).parent
PO = catalogue.LOCALE_DIR / "zh" / "LC_MESSAGES" / "matching.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "gettext": (1,), "ngettext": (1, 2), "N_": None}


def _searched(directory: str) -> bool:
    """Babel's default skips folders starting with ``_``; private subpackages such as
    ``_engine`` hold texts staff read too, so only caches and hidden folders are skipped."""
    name = Path(directory).name
    return not name.startswith(".") and name != "__pycache__"


def _marked() -> dict[str, tuple[str, int]]:
    """Every message marked in the package's code: msgid -> (file, line)."""
    found: dict[str, tuple[str, int]] = {}
    for path, line, message, _comments, _context in extract_from_dir(
        PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS,
        directory_filter=_searched,
    ):  # fmt: skip
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, (path, line))
    return found


def _po() -> dict[str, object]:
    """Every entry by its msgid; a plural entry (ngettext) by its singular and its plural."""
    with PO.open("rb") as stream:
        entries = read_po(stream)
    found: dict[str, object] = {}
    for m in entries:
        if m.id:
            for msgid in (m.id,) if isinstance(m.id, str) else m.id:
                found.setdefault(msgid, m)
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_marked_message_has_a_chinese_text() -> None:
    po = _po()
    missing = [
        f"{path}:{line}: {msgid!r}"
        for msgid, (path, line) in sorted(_marked().items())
        if msgid not in po or not all(_strings(po[msgid]))
    ]
    assert not missing, "messages without a Chinese text:\n" + "\n".join(missing)


def _strings(message: object) -> list[str]:
    text = message.string  # type: ignore[attr-defined]
    return list(text) if isinstance(text, tuple | list) else [text]


def test_no_message_in_the_catalogue_is_unused() -> None:
    unused = sorted(set(_po()) - set(_marked()))
    assert not unused, f"catalogue entries no code uses: {unused}"


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for msgid, message in _po().items():
        ids = message.id if isinstance(message.id, tuple) else (msgid,)  # type: ignore[attr-defined]
        for text in _strings(message):
            if _fields(text) - set().union(*(_fields(i) for i in ids)):
                wrong.append(msgid)
    assert not wrong, f"translations with placeholders their message lacks: {wrong}"


def test_no_fuzzy_entries() -> None:
    fuzzy = [msgid for msgid, message in _po().items() if message.fuzzy]  # type: ignore[attr-defined]
    assert not fuzzy


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with MO.open("rb") as stream:
        compiled = gettext.GNUTranslations(stream)
    for msgid, message in _po().items():
        if isinstance(message.id, tuple):  # type: ignore[attr-defined]
            singular, plural = message.id  # type: ignore[attr-defined]
            assert compiled.ngettext(singular, plural, 1) == _strings(message)[0], msgid
        else:
            assert compiled.gettext(msgid) == message.string, (  # type: ignore[attr-defined]
                f"{MO.name} is stale: run pybabel compile -D matching -d matching/i18n/locale"
            )


def test_chinese_texts_hold_chinese() -> None:
    no_han = [
        msgid
        for msgid, message in _po().items()
        if not any(re.search(r"[\u4e00-\u9fff]", text) for text in _strings(message))
        and re.search(r"[A-Za-z]{3,}", msgid)
    ]
    assert not no_han, f"entries whose Chinese text has no Chinese: {no_han}"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_unknown_message_falls_back_to_itself(language: str) -> None:
    assert translate("no such message in the catalogue", language) == (
        "no such message in the catalogue"
    )
