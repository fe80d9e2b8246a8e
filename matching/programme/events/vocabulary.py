"""The words of an events file: column headers and event kinds, in Chinese and English.

Internal to :mod:`matching.programme.events`, which exports the public names.

:data:`EVENT_VOCABULARY` is the one table of what an events file may say.  Each
entry names a column (an :class:`~matching.programme.events.Event` field) or an
event kind by its English name, gives its Chinese name (the one the README
shows and Chinese messages use) and further accepted spellings (short forms,
traditional characters, English synonyms).  A header or a kind is looked up
after :func:`term_key`: Unicode NFKC (full-width letters become ASCII), case
folded, spaces, ``_`` and ``-`` removed, so ``" Child ID "``, ``child_id`` and
``CHILD-ID`` are one header, and ``EXIT_Request`` is ``exit_request``.

``重新加入`` (rejoin) is a spelling of both ``child_rejoin`` and
``mentor_rejoin``: the ids of the row decide (a child id alone: the child
rejoins; a mentor id alone: the mentor does).

:data:`EVENT_STATE_NAMES` holds the Chinese names of the states that messages
about the exit workflow and mentors' statuses show.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal, NamedTuple

from matching.i18n import current_language

__all__ = [
    "EVENT_STATE_NAMES",
    "EVENT_VOCABULARY",
    "EventTerm",
    "column_fields",
    "field_label",
    "join_alternatives",
    "join_label",
    "join_list",
    "join_reasons",
    "kind_label",
    "kinds_for",
    "state_label",
    "term_key",
    "vocabulary_markdown",
]


class EventTerm(NamedTuple):
    """One entry of :data:`EVENT_VOCABULARY`.

    Attributes
    ----------
    what : {"column", "kind", "ignored"}
        A column (``name`` is the :class:`~matching.programme.events.Event`
        field it fills), an event kind (``name`` is one of
        :data:`~matching.programme.events.EVENT_KINDS`), or a column that is
        accepted and not read (a row number such as ``序号``; ``name`` is ``""``).
    name : str
        The English name: the field or kind as the library names it (always
        accepted too).
    chinese : str
        The Chinese name: shown in the README and in Chinese messages.
    aliases : tuple of str
        Further accepted spellings.
    """

    what: Literal["column", "kind", "ignored"]
    name: str
    chinese: str
    aliases: tuple[str, ...] = ()


EVENT_VOCABULARY: tuple[EventTerm, ...] = (
    EventTerm("column", "kind", "类型", ("事件类型", "事件", "類型", "事件類型", "type", "event")),
    EventTerm("column", "child_id", "儿童编号", ("儿童ID", "儿童", "兒童編號", "兒童", "child")),
    EventTerm(
        "column",
        "mentor_id",
        "爱心妈妈编号",
        ("爱心妈妈ID", "爱心妈妈", "妈妈编号", "愛心媽媽編號", "愛心媽媽", "mentor"),
    ),
    EventTerm("column", "actor", "操作人", ("经办人", "审批人", "办理人", "經辦人", "審批人")),
    EventTerm("column", "note", "备注", ("原因", "说明", "備註", "說明", "reason")),
    EventTerm("column", "date", "日期", ("生效日期", "事件日期")),
    EventTerm("ignored", "", "序号", ("序號", "no.", "no")),
    EventTerm("kind", "exit_request", "退出申请", ("申请退出", "退出申請", "申請退出")),
    EventTerm("kind", "exit_investigate", "街道调查", ("退出调查", "街道調查", "退出調查")),
    EventTerm("kind", "exit_approve", "区级审批", ("退出审批", "區級審批", "退出審批")),
    EventTerm("kind", "exit_effective", "退出生效"),
    EventTerm("kind", "exit_reject", "退出驳回", ("驳回退出", "退出駁回", "駁回退出")),
    EventTerm("kind", "mentor_pause", "暂停", ("暂停服务", "暫停", "暫停服務")),
    EventTerm("kind", "mentor_resume", "恢复", ("恢复服务", "恢復", "恢復服務")),
    EventTerm("kind", "mentor_leave", "退出志愿服务", ("退出志願服務", "爱心妈妈退出")),
    EventTerm("kind", "child_rejoin", "儿童重新加入", ("重新加入", "兒童重新加入", "rejoin")),
    EventTerm(
        "kind",
        "mentor_rejoin",
        "爱心妈妈重新加入",
        ("重新加入", "愛心媽媽重新加入", "rejoin"),
    ),
    EventTerm("kind", "pin", "固定配对", ("固定结对", "固定配對", "固定結對")),
    EventTerm("kind", "unpin", "取消固定", ("解除固定",)),
    EventTerm("kind", "forbid", "禁止配对", ("禁止结对", "禁止配對", "禁止結對")),
    EventTerm(
        "kind",
        "end_pair",
        "结束配对",
        ("结束结对", "解除配对", "解除结对", "結束配對", "結束結對"),
    ),
)
"""Every header and event kind an events file may use, with its Chinese name.

The first Chinese name of each entry is the one messages and the README use;
the English name and the aliases are accepted too.  Every event field and
every event kind has exactly one entry."""

EVENT_STATE_NAMES: dict[str, str] = {
    "none": "无",
    "requested": "已申请",
    "investigated": "已调查",
    "approved": "已审批",
    "active": "在岗",
    "paused": "暂停",
    "left": "已退出",
}
"""The Chinese names of the exit states (``"none"``: no exit in progress) and
the mentor statuses that messages about events show."""

_SEPARATORS = re.compile(r"[\s_\-]+")


def term_key(text: str) -> str:
    """How a header or a kind is compared: NFKC, case folded, spaces, ``_`` and ``-`` removed.

    Examples
    --------
    >>> term_key(" Child ID "), term_key("EXIT_Request"), term_key("儿童 编号")
    ('childid', 'exitrequest', '儿童编号')
    """
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _spellings(term: EventTerm) -> tuple[str, ...]:
    return (term.chinese, term.name, *term.aliases) if term.name else (term.chinese, *term.aliases)


def _lookup(what: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for term in EVENT_VOCABULARY:
        if (term.what == "kind") != (what == "kind"):
            continue
        for spelling in _spellings(term):
            key = term_key(spelling)
            if term.name not in table.get(key, ()):
                table[key] = (*table.get(key, ()), term.name)
    return table


_COLUMNS = _lookup("column")  # header key -> (field,) or ("",) for an ignored column
_KINDS = _lookup("kind")  # kind key -> (kind, ...): two kinds for 重新加入
_CHINESE = {(t.what, t.name): t.chinese for t in EVENT_VOCABULARY}


def column_fields(header: str) -> str | None:
    """The event field a header names, ``""`` for an ignored column, or None if unknown.

    Examples
    --------
    >>> column_fields(" 儿童编号 "), column_fields("Mentor_ID"), column_fields("序号")
    ('child_id', 'mentor_id', '')
    >>> column_fields("姓名") is None
    True
    """
    found = _COLUMNS.get(term_key(header))
    return None if found is None else found[0]


def kinds_for(text: str) -> tuple[str, ...]:
    """The event kinds a cell of the kind column may mean: one, two (``重新加入``) or none.

    Examples
    --------
    >>> kinds_for("退出申请"), kinds_for(" Exit_Request ")
    (('exit_request',), ('exit_request',))
    >>> kinds_for("重新加入")
    ('child_rejoin', 'mentor_rejoin')
    """
    return _KINDS.get(term_key(text), ())


def _chinese_now() -> bool:
    return current_language() == "zh"


def kind_label(kind: str) -> str:
    """An event kind as messages name it: its Chinese name in Chinese, else itself."""
    return _CHINESE.get(("kind", kind), kind) if _chinese_now() else kind


def field_label(field: str) -> str:
    """An event field as messages name it when the file has no such column (Chinese: its header)."""
    return _CHINESE.get(("column", field), field) if _chinese_now() else field


def state_label(state: str) -> str:
    """An exit state or a mentor status as messages name it (``""``: ``"none"``)."""
    word = state or "none"
    return EVENT_STATE_NAMES.get(word, word) if _chinese_now() else word


def join_list(items: list[str]) -> str:
    """Words listed in a message: ``"a, b"`` (Chinese: ``"a、b"``)."""
    return ("、" if _chinese_now() else ", ").join(items)


def join_label(items: list[str]) -> str:
    """The parts of an event's label: ``"a, b"`` (Chinese: ``"a，b"``)."""
    return ("，" if _chinese_now() else ", ").join(items)


def join_alternatives(items: list[str]) -> str:
    """Alternatives in a message: ``"a or b"`` (Chinese: ``"a或b"``)."""
    return ("或" if _chinese_now() else " or ").join(items)


def join_reasons(items: list[str]) -> str:
    """The reasons an event is invalid: ``"a; b"`` (Chinese: ``"a；b"``)."""
    return ("；" if _chinese_now() else "; ").join(items)


def _needs(kind: str) -> str:
    from matching.programme.events.model import REQUIRED  # the model imports this module

    return ", ".join(_CHINESE[("column", name)] for name in REQUIRED[kind])


def vocabulary_markdown() -> str:
    """The tables of :data:`EVENT_VOCABULARY` in Markdown, as the README shows them.

    Two tables: the column headers (Chinese header, other accepted spellings,
    field) and the event kinds (Chinese kind, other spellings, event, what
    the row needs).
    """
    lines = [
        "| Chinese header | also accepted | field |",
        "|---|---|---|",
    ]
    for term in EVENT_VOCABULARY:
        if term.what != "kind":
            field = f"`{term.name}`" if term.name else "(ignored: a row number)"
            lines.append(f"| {term.chinese} | {', '.join(term.aliases)} | {field} |")
    lines += [
        "",
        "| Chinese kind | also accepted | event | the row needs |",
        "|---|---|---|---|",
    ]
    for term in EVENT_VOCABULARY:
        if term.what == "kind":
            lines.append(
                f"| {term.chinese} | {', '.join(term.aliases)} | `{term.name}` "
                f"| {_needs(term.name)} |"
            )
    return "\n".join(lines) + "\n"
