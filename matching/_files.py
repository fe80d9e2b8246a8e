"""File helpers shared by the modules that read and write files (rosters, events,
reports, the state store)."""

from __future__ import annotations

import codecs
import os
from typing import Any

__all__ = ["TEXT_ENCODINGS", "decode_text", "fill_merged_cells", "fsync_path"]

TEXT_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "utf-16", "utf-8", "gb18030")
"""The encodings :func:`decode_text` tells apart, as it names them: UTF-8 with a
byte-order mark ("CSV UTF-8" from Excel), UTF-16 (with its mark: Excel's "Unicode
text"), UTF-8, and GB18030, the superset of GBK that Excel on Chinese Windows writes."""


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a file's bytes and the encoding it was read in (one of
    :data:`TEXT_ENCODINGS`).

    A byte-order mark decides; without one, UTF-8 is tried, then GB18030 (a
    file in GBK or GB18030 is almost never valid UTF-8).

    Raises
    ------
    UnicodeDecodeError
        If the bytes are none of these (the error of the GB18030 attempt).

    Examples
    --------
    >>> decode_text("街道".encode("gbk"))
    ('街道', 'gb18030')
    >>> decode_text(codecs.BOM_UTF8 + "街道".encode())
    ('街道', 'utf-8-sig')
    >>> decode_text("街道".encode("utf-16"))
    ('街道', 'utf-16')
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file, or a directory's entries (a rename), to disk; a no-op where it cannot."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fill_merged_cells(sheet: Any) -> None:
    """Give every cell of each merged range of an openpyxl worksheet the range's value,
    in place (openpyxl gives it to the top-left cell only; the others read as blank)."""
    for cells in list(sheet.merged_cells.ranges):
        value = sheet.cell(cells.min_row, cells.min_col).value
        sheet.unmerge_cells(cells.coord)
        for row in sheet.iter_rows(
            min_row=cells.min_row,
            max_row=cells.max_row,
            min_col=cells.min_col,
            max_col=cells.max_col,
        ):
            for cell in row:
                cell.value = value
