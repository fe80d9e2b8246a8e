"""A roster as district federation staff keep it, in every form they save it.

Thirty children and twenty mentors of four Zhonglou streets, with Chinese
headers, words where numbers are expected (高 / 普通, 2人, 3公里, 10岁),
need categories in short, official and traditional names, 在岗 / 暂停 /
离岗, a few records with an address and no coordinates, and the staff's own
columns (姓名, 联系电话).  All names, phone numbers and addresses are made up.

- :func:`staff_rosters` gives the two tables as staff type them (text cells);
- :func:`write_staff_xlsx` writes one as a government sheet: a title row
  merged across the table, the street cells merged over each street's rows,
  and notes below the table;
- :func:`write_csv_as` writes one as CSV in an encoding (GBK, as Excel on
  Chinese Windows saves it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from builders import at

STREETS = ("永红街道", "北港街道", "西林街道", "荷花池街道")
"""The four streets, each a few km apart."""
_CENTRES = {
    "永红街道": (0.0, 0.0),
    "北港街道": (2.5, 1.5),
    "西林街道": (-2.0, 1.0),
    "荷花池街道": (0.5, -2.5),
}
_SURNAMES = "王李张刘陈杨黄赵周吴徐孙朱马胡郭林何高罗"
_GIVEN = ("小明", "小红", "欣怡", "子涵", "浩然", "雨桐", "梓轩", "思琪", "宇航", "佳怡")
_NEEDS = (
    "生活关爱服务、精神素养提升",
    "生活關愛/家庭教育",
    "社会融入",
    "家庭教育指导；社會融入",
    "精神素养",
    "",
)
_SKILLS = (
    "家庭教育指导，生活关爱",
    "精神素養",
    "社会融入促进 / 生活关爱服务",
    "家庭教育",
    "生活关爱",
)
_INTERESTS = ("下棋、画画", "阅读", "篮球 / 音乐", "", "书法")
CHILD_HEADERS = (
    "编号", "姓名", "街道", "社区", "纬度", "经度", "家庭住址", "需求", "兴趣", "优先级", "性别",
    "年龄", "联系电话",
)  # fmt: skip
MENTOR_HEADERS = (
    "编号", "姓名", "街道", "社区", "纬度", "经度", "家庭住址", "技能", "兴趣", "容量",
    "最大距离", "在岗", "性别", "联系电话",
)  # fmt: skip
ADDRESS_ONLY = ("ZL-C07", "ZL-C19", "ZL-M05")
"""Records with an address and blank coordinates (geocoded before matching)."""
TITLES = {
    "children": "钟楼区困境儿童结对帮扶台账（2026年3月）",
    "mentors": "钟楼区爱心妈妈名册（2026年3月）",
}
NOTES = ("填表人：街道妇联", "注：优先级为“高”的儿童优先结对。")


def _person(rng: np.random.Generator, street: str, k: int) -> dict[str, str]:
    cx, cy = _CENTRES[street]
    lat, lon = at(cx + float(rng.normal(0, 0.9)), cy + float(rng.normal(0, 0.9)))
    name = _SURNAMES[int(rng.integers(len(_SURNAMES)))] + _GIVEN[int(rng.integers(len(_GIVEN)))]
    return {
        "姓名": name,
        "街道": street,
        "社区": f"{street[:2]}第{k % 3 + 1}社区",
        "纬度": f"{lat:.6f}",
        "经度": f"{lon:.6f}",
        "家庭住址": f"常州市钟楼区{street}{int(rng.integers(1, 300))}号",
        "联系电话": f"13{int(rng.integers(10**8, 10**9)):09d}",
    }


FAR_CHILD = "ZL-C30"
"""A child far from every mentor: left unmatched, with a reason."""


def staff_rosters(seed: int = 23) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(children, mentors) as staff type them: every cell text, Chinese headers; the
    records of :data:`ADDRESS_ONLY` have blank coordinates."""
    kids, moms = _complete(seed)
    for frame in (kids, moms):
        blank = frame["编号"].isin(ADDRESS_ONLY)
        frame.loc[blank, ["纬度", "经度"]] = ""
    return kids, moms


def staff_places(seed: int = 23) -> dict[str, tuple[float, float]]:
    """The address of each :data:`ADDRESS_ONLY` record and its true WGS-84 point."""
    places = {}
    for frame in _complete(seed):
        for row in frame[frame["编号"].isin(ADDRESS_ONLY)].itertuples(index=False):
            places[row.家庭住址] = (float(row.纬度), float(row.经度))
    return places


def _complete(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    children = []
    for i in range(30):
        street = STREETS[i % 4]
        row = {"编号": f"ZL-C{i + 1:02d}", **_person(rng, street, i)}
        row |= {
            "需求": _NEEDS[i % len(_NEEDS)],
            "兴趣": _INTERESTS[i % len(_INTERESTS)],
            "优先级": ("高", "普通", "")[i % 3],
            "性别": ("女", "男性")[i % 2],
            "年龄": f"{6 + i % 10}岁" if i % 4 else str(6 + i % 10),
        }
        children.append(row)
    mentors = []
    for i in range(20):
        street = STREETS[i % 4]
        row = {"编号": f"ZL-M{i + 1:02d}", **_person(rng, street, i)}
        row |= {
            "技能": _SKILLS[i % len(_SKILLS)],
            "兴趣": _INTERESTS[(i + 2) % len(_INTERESTS)],
            "容量": ("2人", "1", "3人")[i % 3],
            "最大距离": ("3公里", "5 km", "")[i % 3],
            "在岗": "暂停" if i == 3 else "离岗" if i == 11 else "在岗",
            "性别": "女性",
        }
        mentors.append(row)
    kids = pd.DataFrame(children, columns=list(CHILD_HEADERS))
    far = kids["编号"] == FAR_CHILD
    lat, lon = at(40.0, 40.0)
    kids.loc[far, ["纬度", "经度", "家庭住址"]] = [f"{lat:.6f}", f"{lon:.6f}", "常州市远郊某村1号"]
    return kids, pd.DataFrame(mentors, columns=list(MENTOR_HEADERS))


def write_staff_xlsx(frame: pd.DataFrame, path: Path, *, title: str) -> Path:
    """The table as a government sheet: a merged title row, merged street cells, notes below."""
    import openpyxl

    table = frame.sort_values("街道", kind="stable").reset_index(drop=True)
    book = openpyxl.Workbook()
    sheet = book.active
    width = len(table.columns)
    sheet.cell(1, 1, title)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    for j, header in enumerate(table.columns, start=1):
        sheet.cell(2, j, header)
    for i, row in enumerate(table.itertuples(index=False), start=3):
        for j, value in enumerate(row, start=1):
            sheet.cell(i, j, value if value != "" else None)
    street = list(table.columns).index("街道") + 1
    first = 3
    for i in range(3, len(table) + 4):
        ends = i == len(table) + 3 or table.loc[i - 3, "街道"] != table.loc[first - 3, "街道"]
        if ends:
            if i - 1 > first:
                sheet.merge_cells(start_row=first, start_column=street, end_row=i - 1,
                                  end_column=street)  # fmt: skip
            first = i
    for k, note in enumerate(NOTES, start=len(table) + 4):
        sheet.cell(k, 1, note)
    book.save(path)
    return path


def write_csv_as(frame: pd.DataFrame, path: Path, *, encoding: str) -> Path:
    """The table as CSV in ``encoding`` (``"gbk"``: Excel's "CSV" on Chinese Windows)."""
    path.write_bytes(frame.to_csv(index=False).encode(encoding))
    return path
