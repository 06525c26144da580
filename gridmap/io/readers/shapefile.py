"""Shapefiles, loose or zipped: check the parts are there, find the .dbf's encoding, read it.

A shapefile is several files: ``.shp`` (shapes), ``.shx`` (their index) and ``.dbf`` (the
attribute table) are required; ``.prj`` (coordinate system) and ``.cpg`` (code page) are
optional but matter. A missing required part is named, rather than left for GDAL to misreport.
The .dbf's encoding comes from the .cpg when that fits its bytes, else it is detected (UTF-8,
GBK, GB18030) over the whole table in chunks. A zipped shapefile is unpacked through
:mod:`gridmap.io.readers.archive` (capped, counted) and handed to GDAL from memory, so GDAL
never reads more than was counted.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyproj

from gridmap.errors import EncodingError, InputError, UnsupportedFormatError
from gridmap.io.readers.archive import ARCHIVE_ENDINGS, Budget, open_zip, read_member
from gridmap.io.readers.base import ReadInfo, choose_layer
from gridmap.io.readers.text import Detector, lookup_encoding
from gridmap.io.readers.vector import read_ogr

__all__ = ["read_shapefile"]

_CPG_NAMES = {
    "utf-8": "utf-8", "utf8": "utf-8", "65001": "utf-8",
    "gbk": "gbk", "cp936": "gbk", "936": "gbk", "ansi 936": "gbk", "gb2312": "gbk",
    "gb18030": "gb18030", "54936": "gb18030",
}  # fmt: skip

_REQUIRED = {".shx": "its index of shapes", ".dbf": "its attribute table"}
#: Parts read along with the .shp, and the most each may hold (None: the archive's cap).
_PARTS: dict[str, tuple[int | None, str]] = {
    ".shp": (None, ""),
    ".shx": (None, ""),
    ".dbf": (None, ""),
    ".prj": (64 * 1024, "a .prj holds one coordinate system definition"),
    ".cpg": (64 * 1024, "a .cpg holds only the name of a code page, such as UTF-8 or 936"),
}
_ALL_PARTS = "its .shp, .shx and .dbf files (and the .prj and .cpg, if there are)"
_CHUNK = 1 << 20


@dataclass
class _Parts:
    """The parts of one shapefile: in memory (zipped) or on disk (loose), by lower-case ending."""

    name: str  # as the user sees it: 'data/sites.shp' or 'sites.shp'
    stem: str
    data: dict[str, bytes]
    files: dict[str, Path]

    def has(self, ext: str) -> bool:
        return ext in self.data or ext in self.files

    def small(self, ext: str) -> bytes | None:
        """Return a small part's bytes (.cpg, .prj), or None if there is none."""
        if ext in self.data:
            return self.data[ext]
        if ext in self.files:
            return self.files[ext].read_bytes()[: 64 * 1024]
        return None

    def chunks(self, ext: str) -> Iterator[bytes]:
        """Yield a part's bytes in chunks, without holding a loose file in memory."""
        if ext in self.data:
            view = memoryview(self.data[ext])
            for start in range(0, len(view), _CHUNK):
                yield bytes(view[start : start + _CHUNK])
            return
        with self.files[ext].open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk


def _missing(parts: _Parts, ext: str, zipped: bool, source: str) -> InputError:
    where = "in the archive" if zipped else "next to it"
    return InputError(
        f"The shapefile '{parts.name}' has no {ext} file {where} ({_REQUIRED[ext]}). A shapefile "
        f"is several files of the same name: import {_ALL_PARTS} together, "
        + ("zipped in one archive." if zipped else "in the same folder, or zipped in one archive."),
        source=source,
    )


def _loose_parts(p: Path) -> _Parts:
    files: dict[str, Path] = {}
    for sibling in p.parent.glob(f"{p.stem}.*"):
        if sibling.stem == p.stem and sibling.is_file():
            files.setdefault(sibling.suffix.lower(), sibling)
    files[".shp"] = p
    parts = _Parts(name=p.name, stem=p.stem, data={}, files=files)
    for ext in _REQUIRED:
        if not parts.has(ext):
            raise _missing(parts, ext, False, p.name)
    for ext in (".prj", ".cpg"):
        size = files[ext].stat().st_size if ext in files else 0
        cap = _PARTS[ext][0] or 0
        if size > cap:
            raise InputError(
                f"'{files[ext].name}' holds {size:,} bytes: more than a {ext} file can hold "
                f"({_PARTS[ext][1]}). Replace it with the one made with the shapefile.",
                source=p.name,
            )
    return parts


def _zipped_parts(p: Path, layer_name: str | None, info: ReadInfo) -> _Parts:
    source = p.name
    with open_zip(p, info.limits, source=source) as zf:
        names = [n for n in zf.namelist() if not n.startswith("__MACOSX") and not n.endswith("/")]
        shps = [n for n in names if n.lower().endswith(".shp")]
        if not shps:
            nested = [n for n in names if n.lower().endswith(ARCHIVE_ENDINGS)]
            inside = (
                f" It holds another archive, '{nested[0]}': unzip it first and import the "
                "shapefile inside."
                if nested
                else ""
            )
            raise UnsupportedFormatError(
                "The zip file holds no shapefile (.shp). Zip the .shp together with its .shx, "
                f".dbf, .prj and .cpg files.{inside}",
                source=source,
            )
        by_base = {Path(s).stem: s[:-4] for s in shps}
        if layer_name in by_base:
            stem = by_base[layer_name]
        else:
            stem = by_base[choose_layer(list(by_base), layer_name, None, source, "shapefile")]
        lower = {n.lower(): n for n in names}
        parts = _Parts(name=stem + ".shp", stem=Path(stem).name, data={}, files={})
        budget = Budget(limits=info.limits, source=source)
        found = {ext: lower.get((stem + ext).lower()) for ext in _PARTS}
        for ext in _REQUIRED:
            if found[ext] is None:
                raise _missing(parts, ext, True, source)
        for ext, member in found.items():
            if member is not None:
                cap, why = _PARTS[ext]
                parts.data[ext] = read_member(zf, member, budget, cap=cap, why=why)
    return parts


def _detect_dbf_encoding(parts: _Parts, candidates: tuple[str, ...], source: str) -> list[str]:
    """Return which of ``candidates`` decode the .dbf's field names and records."""
    detector = Detector(candidates)
    chunks = parts.chunks(".dbf")
    head = b""
    for chunk in chunks:  # the header: field descriptors, then the records
        head += chunk
        if len(head) >= 32 and len(head) >= int.from_bytes(head[8:10], "little"):
            break
    if len(head) < 32:
        return list(candidates)
    header_len = int.from_bytes(head[8:10], "little")
    for start in range(32, min(header_len, len(head)) - 31, 32):
        if head[start] == 0x0D:
            break
        detector.feed(head[start : start + 11].split(b"\0", 1)[0] + b" ")
    detector.feed(head[header_len:])
    for chunk in chunks:
        detector.feed(chunk)
    return detector.fits()


def _encoding(parts: _Parts, info: ReadInfo, source: str) -> str | None:
    """Return the encoding to read the .dbf with: the .cpg's if it fits, else detected.

    None means GDAL should interpret an unusual .cpg itself (``info.encoding`` then names it).
    """
    cpg = parts.small(".cpg")
    cpg_text = cpg.decode("ascii", "replace").strip() if cpg else ""
    if cpg_text.lower() in _CPG_NAMES:
        named = _CPG_NAMES[cpg_text.lower()]
        if named in _detect_dbf_encoding(parts, (named,), source):
            return named
        fits = _detect_dbf_encoding(parts, ("utf-8", "gbk", "gb18030"), source)
        if not fits:
            raise _undetected(source)
        info.notes.append(
            f"The .cpg file says the text is {cpg_text}, but it is not; read it as {fits[0]}."
        )
        return fits[0]
    if cpg_text:  # an unusual code page: GDAL knows more of them
        info.encoding = cpg_text
        return None
    fits = _detect_dbf_encoding(parts, ("utf-8", "gbk", "gb18030"), source)
    if not fits:
        raise _undetected(source)
    return fits[0]


def _undetected(source: str) -> EncodingError:
    return EncodingError(
        "Could not tell the text encoding of the shapefile's .dbf (it is neither UTF-8 nor "
        "GBK/GB18030, and there is no .cpg file). Name it with --encoding, for example "
        "--encoding big5.",
        source=source,
    )


def _zip_for_gdal(parts: _Parts) -> bytes:
    """Return an uncompressed in-memory zip of just this shapefile's parts, for GDAL."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for ext, data in parts.data.items():
            zf.writestr(f"layer{ext}", data)
    return out.getvalue()


def read_shapefile(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame:
    """Read a shapefile (``.shp`` with its parts beside it, or a ``.zip`` holding one)."""
    zipped = p.suffix.lower() == ".zip"
    parts = _zipped_parts(p, layer_name, info) if zipped else _loose_parts(p)
    info.layer = parts.stem
    info.missing_parts = [ext for ext in (".prj", ".cpg") if not parts.has(ext)]
    prj = parts.small(".prj")
    if prj is not None:
        try:
            prj.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(
                f"The .prj file of '{parts.name}' is damaged: it is not the text of a coordinate "
                "system. Replace it with the .prj made with the shapefile, or leave it out and "
                "give the coordinate system with --crs.",
                source=p.name,
            ) from None
    if encoding:
        use: str | None = lookup_encoding(encoding, source=p.name)
        info.encoding = use
    else:
        use = _encoding(parts, info, p.name)
        info.encoding = use or info.encoding
    if zipped:
        data = _zip_for_gdal(parts)
        parts.data.clear()  # GDAL reads its own copy: let ours go
        frame = read_ogr(data, info, encoding=use)
    else:
        frame = read_ogr(p, info, encoding=use)
    if frame.crs is not None:
        info.crs = pyproj.CRS(frame.crs)
    return frame
