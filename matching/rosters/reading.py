"""How a roster was read: the file's encoding, where its table sat, and the cells
read through the vocabulary.

:class:`RosterReading` is what :attr:`ValidRoster.reading
<matching.rosters.ValidRoster.reading>` holds, for the command line (or a
notebook) to tell staff how their sheet was understood.  It holds counts,
line numbers, column headers and vocabulary words (which come from the table
of :mod:`matching.rosters.vocabulary`, not from the roster): never a cell's
content.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.i18n import gettext as _
from matching.i18n import ngettext, use_language

__all__ = ["ColumnReading", "RosterReading"]


@dataclass(frozen=True)
class ColumnReading:
    """How one column's cells were read.

    Attributes
    ----------
    column : str
        The canonical column (``"priority"``).
    header : str
        The column's header in the file (``"优先级"``).
    words : int
        Cells read through a vocabulary word (``高``, ``生活关爱服务``, ``暂停``).
    units : int
        Cells read as a number with a unit (``3公里``).
    terms : tuple of (str, int)
        Each vocabulary word or unit used, with the number of cells using it,
        most used first.
    """

    column: str
    header: str
    words: int = 0
    units: int = 0
    terms: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class RosterReading:
    """How a roster was read (see the module's text); empty for a roster given as a frame.

    Attributes
    ----------
    encoding : str or None
        The text encoding of a CSV file (``"utf-8"``, ``"utf-8-sig"``,
        ``"utf-16"``, ``"gb18030"``; see :func:`matching._files.decode_text`),
        None for a workbook or a frame.
    header_line : int or None
        The file's line (a workbook's sheet row) holding the header: above 1
        when title or blank rows sit above it.
    note_lines : tuple of int
        The lines (sheet rows) below the table read as notes, not records.
    headers : tuple of (str, str)
        Each canonical column found and its header in the file.
    columns : tuple of ColumnReading
        The columns where some cells were read through the vocabulary.
    """

    encoding: str | None = None
    header_line: int | None = None
    note_lines: tuple[int, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    columns: tuple[ColumnReading, ...] = ()

    def describe(self, *, language: str | None = None) -> list[str]:
        """The reading in sentences for staff, one per line (empty if nothing to say).

        Examples
        --------
        >>> reading = RosterReading(
        ...     encoding="gb18030",
        ...     header_line=2,
        ...     columns=(ColumnReading("priority", "优先级", words=3, terms=(("高", 3),)),),
        ... )
        >>> for line in reading.describe(language="en"):
        ...     print(line)
        text encoding: GB18030 (GBK)
        header on line 2 (the rows above it were skipped)
        column '优先级': 3 cells read as words (高 ×3)
        """
        with use_language(language):
            lines: list[str] = []
            if self.encoding is not None:
                name = _ENCODING_NAMES.get(self.encoding, self.encoding)
                lines.append(_("text encoding: {encoding}").format(encoding=name))
            if self.header_line is not None and self.header_line > 1:
                lines.append(
                    _("header on line {line} (the rows above it were skipped)").format(
                        line=self.header_line
                    )
                )
            if self.note_lines:
                n = len(self.note_lines)
                listed = ", ".join(str(line) for line in self.note_lines)
                lines.append(
                    ngettext(
                        "{n} row below the table read as a note, not a record: line {lines}",
                        "{n} rows below the table read as notes, not records: lines {lines}",
                        n,
                    ).format(n=n, lines=listed)
                )
            for column in self.columns:
                parts = []
                if column.words:
                    parts.append(
                        ngettext(
                            "{n} cell read as words", "{n} cells read as words", column.words
                        ).format(n=column.words)
                    )
                if column.units:
                    parts.append(
                        ngettext(
                            "{n} cell with a unit", "{n} cells with a unit", column.units
                        ).format(n=column.units)
                    )
                terms = _(", ").join(f"{term} ×{count}" for term, count in column.terms)
                lines.append(
                    _("column {header!r}: {what} ({terms})").format(
                        header=column.header, what=_("; ").join(parts), terms=terms
                    )
                )
            return lines


_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-16": "UTF-16",
    "gb18030": "GB18030 (GBK)",
}
