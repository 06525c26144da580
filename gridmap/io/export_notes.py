"""What an exported table says to its reader, in Chinese or English.

The values as people read them (yes/no as 是/否 or Yes/No, a masked value as 已隐藏 or hidden,
coded values as their titles), the column titles (Chinese ones with their unit: 面积 (m²)),
and the notes that go with the file (the notes sheet of an Excel file, ``<name>.notice.txt``
beside a CSV file or Shapefile): what the file holds, how it was chosen, who exported it when,
what the reader's view leaves out and why, the attribution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gridmap.access import privacy
from gridmap.access.roles import ROLE_TITLES, Access, Level, read_level
from gridmap.schema import Layer, choice_titles, get_layer

OSM_NOTICE = "Contains OpenStreetMap data © OpenStreetMap contributors, ODbL 1.0 (https://www.openstreetmap.org/copyright)"
OSM_NOTICE_ZH = "含 OpenStreetMap 数据 © OpenStreetMap 贡献者，ODbL 1.0 许可（https://www.openstreetmap.org/copyright）"
SYNTHETIC_NOTICE = "Rows with source=synthetic are made-up demo data, not real people or events."
SYNTHETIC_NOTICE_ZH = "数据来源为“演示数据（合成）”的行是编造的演示数据，不是真实的人或事件。"

#: What a masked value says in a cell, by language.
HIDDEN = {"zh-CN": "已隐藏", "en": "hidden"}
#: Yes and no, by language.
YES_NO = {"zh-CN": ("是", "否"), "en": ("Yes", "No")}
#: Units shown after a Chinese column title; counts (户, 人, 栋) are left as the title says them.
UNIT_TITLES = {"m²": "m²", "m": "m", "degrees": "°", "points": "分"}
#: Titles of the coordinate columns of a table (the importer reads them back by these names).
COORDINATE_TITLES = {"lon": "经度", "lat": "纬度", "wkt": "几何(WKT)"}

#: Why the masked view leaves a column out, in Chinese (keyed by the English reason of
#: :data:`gridmap.access.privacy.VIEWS`; tests check that every reason has its translation).
REASONS_ZH: dict[str, str] = {
    "numbers the households of a building in room order: the room": "按房号顺序为楼内住户编号，可推出房号",
    "a name": "姓名",
    "a phone number": "电话号码",
    "members = 1 and an old head is an elderly person living alone": "人数为 1 且户主年老即为独居老人",
    "rented homes are migrants' homes, never an elderly person's alone (AUC 0.62)": "出租房多为流动人口居住，可借此排除独居老人（AUC 0.62）",
    "given only for rented homes: the same as rented": "只有出租房才有评分，等同于是否出租",
    "one of the six visit categories: hidden, and migrant/veteran too, else a hidden one "
    "shows by elimination": "六必访类别之一：隐藏；流动人口、老党员也隐藏，否则可用排除法推出被隐藏的类别",
    "no rows": "不提供逐行数据",
    "numbered in the order of the households: would place the visit": "按住户顺序编号，可推出走访的住户",
    "ties a visit of the six categories to its household": "可把六必访类别的走访对应到住户",
    "free text about the household": "关于住户的自由文本",
    "residents of a one-household building tell its size: with an old head, an elderly person living alone (AUC 0.56)": "单户楼栋的人口即该户人数，结合户主年龄可推出独居老人（AUC 0.56）",
    "free text that may name the people involved": "自由文本，可能写有当事人姓名",
}
#: How the masked view coarsens a column, in Chinese (keyed by the English ``doc``).
COARSENED_ZH: dict[str, str] = {
    "the building only: unit, floor and room removed": "只到楼栋：单元、楼层和房号已去掉",
    "routine, or *** for a visit of one of the six categories": "日常走访；六必访类别的走访显示为“已隐藏”",
}
_PERSONAL = ("personal data", "个人信息")


def column_title(column: Any, lang: str) -> str:
    """Return the title of ``column`` (a schema Column) in a table of language ``lang``.

    English tables keep the column names (``area_m2``: the names carry their units, and
    scripts read them); Chinese ones the Chinese title with its unit: ``面积 (m²)``.
    """
    if lang != "zh-CN":
        return str(column.name)
    unit = UNIT_TITLES.get(column.unit or "")
    return f"{column.zh} ({unit})" if unit else str(column.zh)


def readable_values(table: pd.DataFrame, schema: Layer, lang: str, *, masked: bool) -> pd.DataFrame:
    """Return ``table`` with its values as people read them in ``lang``.

    Coded values become their titles, yes/no columns 是/否 (Yes/No), and, in a masked view, a
    masked value (``***``) says 已隐藏 (hidden) instead. Missing values stay missing.
    """
    out = table.copy()
    yes, no = YES_NO.get(lang, YES_NO["en"])
    pick = 1 if lang == "zh-CN" else 0
    types = {c.name: c.type for c in schema.columns}
    for name in out.columns:
        labels = choice_titles(schema.name, name)
        values = out[name]
        if types.get(name) == "bool" or pd.api.types.is_bool_dtype(values.dtype):
            known = values.notna().to_numpy()
            flags = values.astype("boolean").fillna(False).to_numpy(dtype=bool)
            words = np.where(flags, yes, no).astype(object)
            words[~known] = None
            out[name] = pd.Series(words, index=values.index, dtype=object)
            continue
        if labels:
            out[name] = pd.Series(
                [labels[v][pick] if v in labels else v for v in values.tolist()],
                index=values.index,
                dtype=object,
            )
            values = out[name]
        if masked and (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            hidden = values.astype(object).eq(privacy.MASK).to_numpy()
            if hidden.any():
                out[name] = values.astype(object).where(~hidden, HIDDEN.get(lang, HIDDEN["en"]))
    return out


def readable_titles(table: pd.DataFrame, schema: Layer, lang: str) -> pd.DataFrame:
    """Return ``table`` with its columns titled for ``lang`` (see :func:`column_title`)."""
    if lang != "zh-CN":
        return table
    titles = {c.name: column_title(c, lang) for c in schema.columns} | COORDINATE_TITLES
    return table.rename(columns=titles)


@dataclass(frozen=True)
class Left:
    """A column the reader's view leaves out or coarsens, and why (English, Chinese)."""

    column: str
    title_en: str
    title_zh: str
    why_en: str
    why_zh: str
    coarsened: bool = False


def left_out(layer: str, access: Access) -> list[Left]:
    """Return the columns of ``layer`` that ``access``'s view leaves out or coarsens, and why."""
    schema = get_layer(layer)
    if read_level(access, layer) is not Level.MASKED:
        return []
    served = {c.name for c in privacy.served_layer(schema, access).columns}
    view = privacy.VIEWS.get(layer)
    out = []
    for c in schema.columns:
        if view is not None and c.name in view.coarsen:
            doc = view.coarsen[c.name].doc
            out.append(Left(c.name, c.en, c.zh, doc, COARSENED_ZH.get(doc, doc), coarsened=True))
        elif c.name not in served:
            why = view.dropped.get(c.name) if view is not None else None
            en, zh = (why, REASONS_ZH.get(why, why)) if why else _PERSONAL
            out.append(Left(c.name, c.en, c.zh, en, zh))
    return out


@dataclass(frozen=True)
class Notes:
    """What an export's notes say: the file, its choice, its reader, its leftovers."""

    layer: str
    rows: int
    lang: str
    access: Access
    asked: Mapping[str, Any] = field(default_factory=dict)
    exported_at: str = ""
    timezone: str = "Asia/Shanghai"
    workspace: str = ""
    sources: frozenset[str] = frozenset()
    columns: Sequence[Any] = ()  # the served schema columns, in file order
    placed: bool = True  # whether the rows have coordinates (lon/lat columns)

    @property
    def zh(self) -> bool:
        """Whether the notes are in Chinese."""
        return self.lang == "zh-CN"

    def _say(self, en: str, zh: str) -> str:
        return zh if self.zh else en

    def choice(self) -> str:
        """What part of the layer the file holds: the whole layer, grids, a view, a selection."""
        a = self.asked
        parts = []
        if a.get("grids"):
            codes = list(a["grids"])
            parts.append(self._say(f"grids {', '.join(codes)}", f"网格 {'、'.join(codes)}"))
        if a.get("ids"):
            parts.append(self._say(f"{a['ids']} selected features", f"选中的 {a['ids']} 个要素"))
        if a.get("bbox"):
            box = ",".join(f"{v:g}" for v in a["bbox"])
            parts.append(self._say(f"the map view {box} (degrees)", f"地图视图 {box}（经纬度）"))
        if a.get("where"):
            parts.append(self._say("the rows that pass the filter", "符合筛选条件的行"))
        if not parts:
            parts.append(self._say("the whole layer", "整个图层"))
        return self._say("; ", "；").join(parts)

    def pairs(self) -> list[tuple[str, str]]:
        """Return the notes as (label, text) pairs, the first the title of the notes."""
        schema = get_layer(self.layer)
        role = ROLE_TITLES.get(self.access.role, (self.access.role, self.access.role))
        title = self._say(f"About this file: {schema.en}", f"文件说明：{schema.zh}")
        where = self.asked.get("where") or []
        out: list[tuple[str, str]] = [
            (self._say("About", "说明"), title),
            (self._say("Layer", "图层"), f"{schema.zh if self.zh else schema.en} ({schema.name})"),
            (self._say("Holds", "范围"), self.choice()),
            (
                self._say("Filter", "筛选条件"),
                self._say("; ", "；").join(where) if where else self._say("none", "无"),
            ),
            (self._say("Rows", "行数"), f"{self.rows:,}"),
            (
                self._say("Exported by", "导出人"),
                f"{self.access.who} ({role[1] if self.zh else role[0]})",
            ),
            (
                self._say("Exported at", "导出时间"),
                f"{self.exported_at} ({self.timezone})",
            ),
        ]
        if self.workspace:
            out.append((self._say("Workspace", "工作区"), self.workspace))
        out.append(
            (
                self._say("Times", "时间"),
                self._say(
                    f"local times of the workspace's zone, {self.timezone}",
                    f"工作区时区 {self.timezone} 的本地时间",
                ),
            )
        )
        if self.placed:
            out.append(
                (
                    self._say("Coordinates", "坐标"),
                    self._say(
                        "lon/lat in degrees (WGS84, EPSG:4326); a shape's representative point",
                        "经纬度（度，WGS84，EPSG:4326）；面和线取其代表点",
                    ),
                )
            )
        out.extend(self._masked())
        if "osm" in self.sources:
            out.append((self._say("Map data", "地图数据"), self._say(OSM_NOTICE, OSM_NOTICE_ZH)))
        if "synthetic" in self.sources:
            out.append(
                (
                    self._say("Demo data", "演示数据"),
                    self._say(SYNTHETIC_NOTICE, SYNTHETIC_NOTICE_ZH),
                )
            )
        out.extend(self._columns())
        return out

    def _masked(self) -> list[tuple[str, str]]:
        left = left_out(self.layer, self.access)
        if not left:
            return []
        role = ROLE_TITLES.get(self.access.role, (self.access.role, self.access.role))
        hidden = HIDDEN["zh-CN" if self.zh else "en"]
        out = [
            (
                self._say("Masked", "脱敏"),
                self._say(
                    f"Personal data is masked: your role ({role[0]}) gets the masked view. "
                    f"A cell that says '{hidden}' holds a value your view does not show.",
                    f"个人信息已脱敏：您的角色（{role[1]}）看到的是脱敏视图。"
                    f"单元格中的“{hidden}”表示该值对您的角色不可见。",
                ),
            )
        ]
        for c in left:
            name = f"{c.title_zh} ({c.column})" if self.zh else c.column
            if c.coarsened:
                text = self._say(f"coarsened: {c.why_en}", f"已简化：{c.why_zh}")
            else:
                text = self._say(f"left out: {c.why_en}", f"未导出：{c.why_zh}")
            out.append((name, text))
        return out

    def _columns(self) -> list[tuple[str, str]]:
        if not self.columns:
            return []
        out = [(self._say("Columns", "列"), self._say("what each column holds", "各列含义"))]
        for c in self.columns:
            unit = f" [{c.unit}]" if c.unit else ""
            # the column's name in the workspace (what an import matches), in the notes' language
            text = self._say(f"{c.en}{unit}, column {c.name}", f"{c.zh}{unit}，字段名 {c.name}")
            out.append((column_title(c, self.lang), text))
        return out

    def lines(self) -> list[str]:
        """Return the notes as lines of text (``label: text``), for ``.notice.txt`` files."""
        sep = "：" if self.zh else ": "
        return [f"{label}{sep}{text}" for label, text in self.pairs()]
