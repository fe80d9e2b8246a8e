"""Choosing the language of texts: the argument, the block, the process, the locale."""

from __future__ import annotations

import threading

import pytest

from matching.errors import ConfigError
from matching.i18n import (
    check_language,
    current_language,
    default_language,
    gettext,
    set_language,
    use_language,
)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"LANGUAGE": "zh_CN:en"}, "zh"),
        ({"LANGUAGE": "", "LC_ALL": "zh_TW.UTF-8"}, "zh"),
        ({"LANGUAGE": "", "LC_MESSAGES": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANGUAGE": "", "LANG": "zh_CN.GB18030"}, "zh"),
        ({"LANGUAGE": "", "LANG": "C.UTF-8"}, "en"),
        ({"LANGUAGE": ""}, "en"),
    ],
)
def test_the_default_follows_the_locale(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], expected: str
) -> None:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert default_language() == expected
    assert current_language() == expected


def test_a_block_sets_the_language_and_restores_it() -> None:
    assert current_language() == "en"
    with use_language("zh"):
        assert gettext("Chinese") == "中文"
        with use_language("en"):
            assert gettext("Chinese") == "Chinese"
        with use_language(None):
            assert current_language() == "zh"
    assert gettext("Chinese") == "Chinese"


def test_set_language_reaches_other_threads() -> None:
    seen: list[str] = []
    set_language("zh")
    try:
        thread = threading.Thread(target=lambda: seen.append(current_language()))
        thread.start()
        thread.join()
    finally:
        set_language(None)
    assert seen == ["zh"]
    assert current_language() == "en"


@pytest.mark.parametrize("value", ["fr", "", None, 3])
def test_an_unknown_language_is_refused_by_name(value: object) -> None:
    with pytest.raises(ConfigError, match="'language' parameter must be 'zh' or 'en'"):
        check_language(value)
    if value is not None:  # None means the current language
        with pytest.raises(ConfigError):
            gettext("Chinese", value)  # type: ignore[arg-type]
