"""The vocabulary of roster cells: the words staff write, and what they mean.

Staff keep rosters in Excel, in Chinese, the way they speak: ``高`` for a
priority, ``生活关爱服务`` or ``生活關愛`` for a need category, ``暂停`` for a
mentor on a break, ``3公里`` for a distance.  Validation reads such cells
through one table, :data:`VOCABULARY`, which a TOML ``[vocabulary]`` table can
extend (:func:`matching.config.load_vocabulary`).  Words are compared after
stripping, case-folding, turning traditional characters of the table below
into simplified ones, and turning runs of spaces and hyphens into ``_``
(``"Life Care"`` is ``life_care``).

========================  ===============================================================
column                    words and what they mean
========================  ===============================================================
``priority``              紧急 / urgent → 3, 高 / high → 2, 中 / medium → 1,
                          普通 / 一般 / normal → 0, 低 / low → 0 (a blank cell is 0, the
                          default; a number 0 to 100 is read as it is)
``needs``, ``skills``     the codes (``life_care`` …), the short names (生活关爱,
                          精神素养, 社会融入, 家庭教育), the official full names
                          (生活关爱服务, 精神素养提升, 社会融入促进, 家庭教育指导), each
                          also in traditional characters (生活關愛, 精神素養, 社會融入 …)
``active``                true / yes / y / 1 / 是 / 在岗 → active;
                          false / no / n / 0 / 否 / 离岗 / 暂停 / 退出 → inactive
``gender``                f / female / 女 / 女性 → female; m / male / 男 / 男性 → male
``age``                   a number with 岁, 周岁 or years: ``10岁``
``max_distance_km``       a number with km, 公里 or 千米, or m / 米 (metres): ``3公里``,
                          ``3 km``, ``500米``
``capacity``              a number with 人, 名 or 个: ``2人``
========================  ===============================================================

Priority words map to small integers on purpose: leaving a child unmatched
costs ``priority_km`` (10 km-eq by default) more per level, so one level
already outweighs any pair within reach, and ``高`` beats ``中`` as ``中``
beats ``普通``.  ``低`` reads as 0, like ``普通``: nothing ranks below the
default.

A unit belongs to its columns: ``3公里`` in the ``age`` column is a problem
naming the units accepted there.  Lists (``needs``, ``skills``,
``interests``) are split at ``、 , ， ; ； / ／ |`` (see :data:`LIST_SEPARATORS`)
and at whitespace: a need item that is no word of the table is read as
words separated by spaces (``生活关爱 家庭教育``, ``life care family
education``), and an interest tag is split at whitespace next to a Chinese
character (``绘画 书法`` is two tags, ``table tennis`` one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from matching.errors import ConfigError
from matching.i18n import N_
from matching.rosters.columns import NEED_LABELS_ZH, NEEDS

__all__ = [
    "LIST_SEPARATORS",
    "PRIORITY_WORDS",
    "VOCABULARY",
    "Vocabulary",
    "normalize_word",
    "number_and_unit",
    "split_list",
    "split_tags",
]

LIST_SEPARATORS: tuple[str, ...] = ("、", ",", "，", ";", "；", "/", "／", "|")
"""The separators of a list cell (whitespace separates too, see the module's text)."""

_SPLIT = re.compile("[" + re.escape("".join(LIST_SEPARATORS)) + "]")
_JOIN = re.compile(r"[\s\-]+")
# whitespace that separates two interest tags: next to a character outside ASCII
_CJK_SPACE = re.compile(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])")
_NUMBER_UNIT = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(\D.*)")

# Traditional characters of the table's words (and of the words staff add most), with
# their simplified forms: enough for this vocabulary, not a general converter.
_TRADITIONAL = str.maketrans(
    "關愛養會務進導崗離暫緊歲週級優態體學習發輔幫齡職殘孤獨親護陪讀書畫運動樂藝術"
    "與際國計劃類別編號緯經區興趣轉來源個總協調難問題聯電話寫備註",
    "关爱养会务进导岗离暂紧岁周级优态体学习发辅帮龄职残孤独亲护陪读书画运动乐艺术"
    "与际国计划类别编号纬经区兴趣转来源个总协调难问题联电话写备注",
)


def normalize_word(text: str) -> str:
    """A cell's text as the vocabulary compares it.

    Stripped, case-folded, traditional characters of the table made simplified,
    runs of spaces and hyphens turned into ``_``.

    Examples
    --------
    >>> normalize_word(" Life  Care "), normalize_word("生活關愛"), normalize_word("HIGH")
    ('life_care', '生活关爱', 'high')
    """
    return _JOIN.sub("_", text.strip().casefold().translate(_TRADITIONAL))


def split_list(text: str) -> list[str]:
    """The stripped, non-empty items of a list cell, split at :data:`LIST_SEPARATORS`.

    Examples
    --------
    >>> split_list("生活关爱／家庭教育| life care ,")
    ['生活关爱', '家庭教育', 'life care']
    """
    return [item for item in map(str.strip, _SPLIT.split(text)) if item]


def split_tags(item: str) -> list[str]:
    """An interest item split at whitespace next to a character outside ASCII.

    Examples
    --------
    >>> split_tags("绘画 书法"), split_tags("table tennis")
    (['绘画', '书法'], ['table tennis'])
    """
    if not _CJK_SPACE.search(item):
        return [item]
    return [part for part in _CJK_SPACE.split(item) if part]


_PRIORITY = {
    "紧急": 3,
    "urgent": 3,
    "高": 2,
    "high": 2,
    "中": 1,
    "medium": 1,
    "普通": 0,
    "一般": 0,
    "normal": 0,
    "低": 0,
    "low": 0,
}
PRIORITY_WORDS: dict[int, str] = {
    3: N_("urgent"),
    2: N_("high"),
    1: N_("medium"),
    0: N_("normal"),
}
"""The word of each priority level the vocabulary reads (translate with ``gettext``): the
workbook shows these instead of the numbers; other numbers stay numbers."""

_OFFICIAL = {
    "life_care": "生活关爱服务",
    "spiritual_growth": "精神素养提升",
    "social_integration": "社会融入促进",
    "family_education": "家庭教育指导",
}
_ACTIVE = {
    "true": True,
    "yes": True,
    "y": True,
    "1": True,
    "是": True,
    "在岗": True,
    "false": False,
    "no": False,
    "n": False,
    "0": False,
    "否": False,
    "离岗": False,
    "暂停": False,
    "退出": False,
}
_GENDER = {
    "f": "female",
    "female": "female",
    "女": "female",
    "女性": "female",
    "m": "male",
    "male": "male",
    "男": "male",
    "男性": "male",
}
_UNITS: dict[str, dict[str, float]] = {
    "age": {"岁": 1.0, "周岁": 1.0, "years": 1.0},
    "max_distance_km": {"km": 1.0, "公里": 1.0, "千米": 1.0, "m": 0.001, "米": 0.001},
    "capacity": {"人": 1.0, "名": 1.0, "个": 1.0},
}
_KINDS = ("priority", "needs", "active", "gender")


def _frozen(table: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(table))


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The words validation reads in roster cells (see the module's table).

    Keys are normalised words (:func:`normalize_word`).  Build one with
    :meth:`extended` (or :func:`matching.config.load_vocabulary` from a TOML
    file) rather than by hand; :data:`VOCABULARY` is the built-in table.

    Attributes
    ----------
    priority : Mapping[str, int]
        Priority word -> level, 0 to 100.
    needs : Mapping[str, str]
        Need word -> need code (one of :data:`~matching.rosters.NEEDS`); the
        codes themselves are words too.
    active : Mapping[str, bool]
        Yes/no and active word -> whether the mentor takes part.
    gender : Mapping[str, str]
        Gender word -> ``"female"`` or ``"male"``.
    units : Mapping[str, Mapping[str, float]]
        Column -> unit -> factor to the column's unit (``米`` is 0.001 km).
    """

    priority: Mapping[str, int]
    needs: Mapping[str, str]
    active: Mapping[str, bool]
    gender: Mapping[str, str]
    units: Mapping[str, Mapping[str, float]]

    def extended(
        self,
        *,
        priority: Mapping[str, Any] | None = None,
        needs: Mapping[str, Any] | None = None,
        active: Mapping[str, Any] | None = None,
        gender: Mapping[str, Any] | None = None,
    ) -> Vocabulary:
        """This vocabulary with more words (a word given again takes its new meaning).

        Parameters
        ----------
        priority : Mapping[str, int], optional
            Word -> priority level, an integer 0 to 100 (``{"特急": 3}``).
        needs : Mapping[str, str], optional
            Word -> need category: a code (``"spiritual_growth"``) or a word
            the vocabulary already knows (``"精神素养"``).
        active : Mapping[str, bool], optional
            Word -> ``true`` (takes part) or ``false``.
        gender : Mapping[str, str], optional
            Word -> ``"female"`` or ``"male"`` (or a gender word already known).

        Raises
        ------
        ConfigError
            If a word is blank or a meaning is not acceptable; the message
            names the table and the word.

        Examples
        --------
        >>> words = VOCABULARY.extended(priority={"特急": 3}, needs={"心理辅导": "精神素养"})
        >>> words.priority["特急"], words.needs["心理辅导"]
        (3, 'spiritual_growth')
        """
        given = {"priority": priority, "needs": needs, "active": active, "gender": gender}
        tables: dict[str, dict[str, Any]] = {kind: dict(getattr(self, kind)) for kind in _KINDS}
        for kind, words in given.items():
            if words is None:
                continue
            if not isinstance(words, Mapping):
                raise ConfigError(
                    f"vocabulary: {kind} must be a table of words, got a "
                    f"{type(words).__name__} instead"
                )
            for word, meaning in words.items():
                if not isinstance(word, str) or not normalize_word(word):
                    raise ConfigError(f"vocabulary: {kind} has a blank word")
                tables[kind][normalize_word(word)] = self._meaning(kind, word, meaning)
        return Vocabulary(
            priority=_frozen(tables["priority"]),
            needs=_frozen(tables["needs"]),
            active=_frozen(tables["active"]),
            gender=_frozen(tables["gender"]),
            units=self.units,
        )

    def _meaning(self, kind: str, word: str, meaning: Any) -> Any:
        """The checked meaning of ``word`` in table ``kind`` (a ``ConfigError`` naming it)."""
        where = f"vocabulary: {kind} word {word!r}"
        if kind == "priority":
            if isinstance(meaning, bool) or not isinstance(meaning, int) or not 0 <= meaning <= 100:
                raise ConfigError(f"{where} must mean an integer 0 to 100")
            return meaning
        if kind == "active":
            if not isinstance(meaning, bool):
                raise ConfigError(f"{where} must mean true or false")
            return meaning
        known = self.needs if kind == "needs" else self.gender
        if isinstance(meaning, str) and normalize_word(meaning) in known:
            return known[normalize_word(meaning)]
        accepted = ", ".join(NEEDS) if kind == "needs" else "female, male"
        raise ConfigError(f"{where} must mean one of {accepted}")

    def words(self, kind: str) -> tuple[str, ...]:
        """The words of one table (``"priority"``, ``"needs"``, ``"active"``, ``"gender"``).

        Examples
        --------
        >>> VOCABULARY.words("gender")
        ('f', 'female', '女', '女性', 'm', 'male', '男', '男性')
        """
        return tuple(getattr(self, kind))


def _builtin() -> Vocabulary:
    needs: dict[str, str] = {}
    for code in NEEDS:
        for word in (code, NEED_LABELS_ZH[code], _OFFICIAL[code]):
            needs[normalize_word(word)] = code
    return Vocabulary(
        priority=_frozen(_PRIORITY),
        needs=_frozen(needs),
        active=_frozen(_ACTIVE),
        gender=_frozen(_GENDER),
        units=_frozen({column: _frozen(units) for column, units in _UNITS.items()}),
    )


VOCABULARY: Vocabulary = _builtin()
"""The built-in vocabulary (the table in the module's text)."""


def number_and_unit(text: str) -> tuple[float, str] | None:
    """A number followed by a unit (``"3 公里"`` -> ``(3.0, "公里")``), or None.

    The unit comes back normalised (:func:`normalize_word`).

    Examples
    --------
    >>> number_and_unit("3 km"), number_and_unit("10周歲"), number_and_unit("far")
    ((3.0, 'km'), (10.0, '周岁'), None)
    """
    found = _NUMBER_UNIT.fullmatch(text.strip())
    if found is None:
        return None
    return float(found.group(1)), normalize_word(found.group(2))
