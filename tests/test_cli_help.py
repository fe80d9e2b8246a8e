"""The ``matching`` command's own help and usage errors in the language of the run."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from matching import _cli_parser
from matching.cli import main

HAN = re.compile(r"[\u4e00-\u9fff]")


def _help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


@pytest.mark.parametrize("option", [["--language", "zh"], ["--language=zh"]])
def test_help_in_chinese_with_the_option(
    capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    out = _help(capsys, ["--help", *option])
    assert out.startswith("用法：matching ")
    assert "为儿童与爱心妈妈做最优、可解释的结对。" in out
    assert "为两份名单配对并写出结果" in out  # the summary of `match`
    assert "显示本帮助信息并退出" in out and "选项:" in out
    assert "退出码：" in out and "MATCHING_DEBUG=1" in out
    assert "exit codes:" not in out and "usage:" not in out
    assert "show this help message" not in out and "options:" not in out


def test_a_subcommands_help_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    out = _help(capsys, ["nightly", "--help", "--language", "zh"])
    assert out.startswith("用法：matching nightly ")
    assert "检查名单和事件，写入状态库" in out  # the description
    assert "状态库（SQLite 文件）" in out and "计划的输出文件夹" in out  # --db, --out
    assert "地理编码:" in out  # the geocoding options' group
    assert "退出码：" in out
    # every line of help text in Chinese: no English sentence left outside the catalogue
    for line in out[out.index("\n\n") :].splitlines():
        words = re.sub(r"--?[\w-]+", "", line)  # the options' names stay
        assert not re.search(r"\b(the|and|of|or|to)\b", words), line


@pytest.mark.parametrize("command", ["match", "demo", "nightly", "plan", "backup", "province"])
def test_every_subcommand_has_chinese_help(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    out = _help(capsys, [command, "-h", "--language", "zh"])
    _summary, description = _cli_parser._SUBCOMMANDS[command]
    assert description.splitlines()[0] not in out
    assert out.startswith(f"用法：matching {command} ") and "退出码：" in out
    assert HAN.search(out.split("\n\n")[1])  # the description


def test_chinese_help_fits_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # argparse counts characters; a Chinese character takes two columns of the terminal
    monkeypatch.setenv("COLUMNS", "80")
    out = _help(capsys, ["nightly", "--help", "--language", "zh"])
    usage_end = out.index("\n\n")
    width = {
        line: sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)
        for line in out[usage_end:].splitlines()
    }
    assert max(width.values()) <= 80, [line for line, w in width.items() if w > 80]
    assert "姓名,联系电话" in out  # a list of headers is never cut


@pytest.mark.parametrize("argv", [["--help"], ["nightly", "--help"]])
def test_help_in_english(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    for given in ([], ["--language", "en"]):
        out = _help(capsys, [*argv, *given])
        assert out.startswith("usage: matching ")
        assert "options:" in out and "show this help message and exit" in out
        assert "exit codes:" in out and "interrupted" in out
        assert not HAN.search(out.replace("姓名,联系电话", ""))


def test_nightly_help_in_english_is_unchanged(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = _help(capsys, ["nightly", "--help"])
    assert (
        "  --db STATE            state store (SQLite file)\n"
        "  --children FILE       children roster (joins and updates)\n"
    ) in out
    assert (
        "Validate the rosters and events, apply them to the state store, re-match\n"
        "with minimal disruption, commit it in one transaction (unless --dry-run) and\n"
    ) in out
    assert "  --dry-run             plan only; change nothing\n" in out


def test_the_locale_chooses_chinese_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGUAGE", "zh_CN")
    assert "为两份名单配对并写出结果" in _help(capsys, ["--help"])
    assert "usage:" in _help(capsys, ["--help", "--language", "en"])  # the option first


def test_the_configs_language_chooses_the_help(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "m.toml"
    config.write_text('[output]\nlanguage = "zh"\n', encoding="utf-8")
    assert "用法：" in _help(capsys, ["nightly", "--config", str(config), "--help"])
    assert "usage:" in _help(capsys, ["nightly", "--config", str(config), "-h", "--language=en"])


@pytest.mark.parametrize(
    "argv",
    [
        ["nightly", "--language", "zh"],  # --db and --out missing
        ["demo", "--children", "-3", "--language", "zh"],
        ["--language", "fr", "--help"],
        ["--language"],
        ["nightly", "--config", "missing.toml", "--language", "klingon", "--help"],
    ],
)
def test_usage_errors_still_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "usage:" in err or "用法：" in err


def test_an_argument_error_of_the_parser_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--children", "-3", "--language", "zh"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("用法：matching demo ")
    assert "应为大于或等于 0 的整数，实际为 '-3'" in err
    assert (
        main(["plan", "--db", "s.db", "--run", "x", "--out", "o", "--carry-columns", "a,,b"]) == 2
    )
    err = capsys.readouterr().err
    assert "expected a whole number >= 0, got 'x'" in err


def test_a_broken_config_leaves_the_help_to_the_locale_and_is_reported_later(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "m.toml"
    config.write_text('[output]\nlanguage = "fr"\n', encoding="utf-8")
    assert "usage:" in _help(capsys, ["nightly", "--config", str(config), "--help"])
    broken = tmp_path / "broken.toml"
    broken.write_text("[output\n", encoding="utf-8")
    assert "usage:" in _help(capsys, ["match", "--config", str(broken), "--help"])
    code = main(["match", "c.csv", "m.csv", "--out", str(tmp_path / "o"), "--config", str(config)])
    assert code == 1
    assert "'language' parameter must be 'zh' or 'en'" in capsys.readouterr().err
