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

import glob
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyproj

from gridmap.errors import EncodingError, InputError, UnsupportedFormatError
from gridmap.io.readers.archive import ARCHIVE_ENDINGS, Budget, iter_member, open_zip, size_text
from gridmap.io.readers.base import ReadInfo, choose_layer
from gridmap.io.readers.text import DETECT_ORDER, decodes, lookup_encoding
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
    """One shapefile's parts: the small ones in memory, and what the .dbf decodes as.

    ``gdal`` is what GDAL reads: the .shp path (loose files) or an in-memory zip of just these
    parts (zipped), so that GDAL reads only bytes that were counted.
    """

    name: str  # as the user sees it: 'data/sites.shp' or 'sites.shp'
    stem: str
    present: set[str]
    small: dict[str, bytes]
    dbf: Callable[[], Iterator[bytes]]  # the .dbf's bytes again, in chunks, on each call
    gdal: Path | bytes = b""

    def dbf_decodes(self, encoding: str) -> bool:
        """Return whether the .dbf's field names and records decode as ``encoding``."""
        return decodes(_dbf_text(self.dbf()), encoding)

    def detect(self) -> str | None:
        """Return the first of UTF-8, GBK, GB18030 the .dbf decodes as, or None."""
        return next((e for e in DETECT_ORDER if self.dbf_decodes(e)), None)


def _missing(name: str, ext: str, zipped: bool, source: str) -> InputError:
    where = "in the archive" if zipped else "next to it"
    return InputError(
        f"The shapefile '{name}' has no {ext} file {where} ({_REQUIRED[ext]}). A shapefile "
        f"is several files of the same name: import {_ALL_PARTS} together, "
        + ("zipped in one archive." if zipped else "in the same folder, or zipped in one archive."),
        source=source,
    )


def _dbf_text(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Yield the parts of a .dbf that hold text: its field names, then its records."""
    head = b""
    for chunk in chunks:  # the header: 32 bytes, field descriptors of 32 bytes, then records
        head += chunk
        if len(head) >= 32 and len(head) >= int.from_bytes(head[8:10], "little"):
            break
    header_len = int.from_bytes(head[8:10], "little") if len(head) >= 32 else len(head)
    for start in range(32, min(header_len, len(head)) - 31, 32):
        if head[start] == 0x0D:
            break
        yield head[start : start + 11].split(b"\0", 1)[0] + b" "
    yield head[header_len:]
    yield from chunks


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _loose_parts(p: Path) -> _Parts:
    files: dict[str, Path] = {}
    for sibling in p.parent.glob(f"{glob.escape(p.stem)}.*"):
        if sibling.stem == p.stem and sibling.is_file():
            files.setdefault(sibling.suffix.lower(), sibling)
    files[".shp"] = p
    for ext in _REQUIRED:
        if ext not in files:
            raise _missing(p.name, ext, False, p.name)
    small = {}
    for ext in (".prj", ".cpg"):
        if ext not in files:
            continue
        size = files[ext].stat().st_size
        cap, why = _PARTS[ext]
        if cap is not None and size > cap:
            raise InputError(
                f"'{files[ext].name}' holds {size_text(size)}: more than a {ext} file can hold "
                f"({why}). Replace it with the one made with the shapefile.",
                source=p.name,
            )
        small[ext] = files[ext].read_bytes()
    return _Parts(
        name=p.name,
        stem=p.stem,
        present=set(files),
        small=small,
        dbf=lambda: _file_chunks(files[".dbf"]),
        gdal=p,
    )


def _display(info: zipfile.ZipInfo) -> str:
    """Return a member's name as its maker wrote it: GBK names are common without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437", "replace")
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _stored_chunks(data: bytes, name: str) -> Iterator[bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open(name) as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


def _zipped_parts(p: Path, layer_name: str | None, info: ReadInfo) -> _Parts:
    source = p.name
    with open_zip(p, info.limits, source=source) as zf:
        infos = [
            i for i in zf.infolist() if not i.filename.startswith("__MACOSX") and not i.is_dir()
        ]
        shps = [i for i in infos if i.filename.lower().endswith(".shp")]
        if not shps:
            nested = [_display(i) for i in infos if i.filename.lower().endswith(ARCHIVE_ENDINGS)]
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
        by_base = {Path(_display(i)).stem: i.filename[:-4] for i in shps}
        if layer_name in by_base:
            stem = by_base[layer_name]
        else:
            stem = by_base[choose_layer(list(by_base), layer_name, None, source, "shapefile")]
        lower = {i.filename.lower(): i for i in infos}
        found = {ext: lower.get((stem + ext).lower()) for ext in _PARTS}
        shown = _display(found[".shp"]) if found[".shp"] else stem + ".shp"
        for ext in _REQUIRED:
            if found[ext] is None:
                raise _missing(shown, ext, True, source)
        budget = Budget(limits=info.limits, source=source)
        small: dict[str, bytes] = {}
        out = io.BytesIO()
        big = info.limits.max_member_bytes >= zipfile.ZIP64_LIMIT
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as gdal_zip:
            for ext, member in found.items():
                if member is None:
                    continue
                cap, why = _PARTS[ext]
                chunks = iter_member(zf, member.filename, budget, cap=cap, why=why)
                with gdal_zip.open(f"layer{ext}", "w", force_zip64=big) as sink:
                    for chunk in chunks:
                        sink.write(chunk)
                        if ext in (".prj", ".cpg"):  # 64 KB at most: kept for us too
                            small[ext] = small.get(ext, b"") + chunk
    data = out.getvalue()
    del out
    return _Parts(
        name=shown,
        stem=Path(shown).stem,
        present={ext for ext, member in found.items() if member is not None},
        small=small,
        dbf=lambda: _stored_chunks(data, "layer.dbf"),
        gdal=data,
    )


def _encoding(parts: _Parts, info: ReadInfo, source: str) -> str | None:
    """Return the encoding to read the .dbf with: the .cpg's if it fits, else detected.

    None means GDAL should interpret an unusual .cpg itself (``info.encoding`` then names it).
    """
    cpg = parts.small.get(".cpg")
    cpg_text = cpg.decode("ascii", "replace").strip() if cpg else ""
    if cpg_text.lower() in _CPG_NAMES:
        named = _CPG_NAMES[cpg_text.lower()]
        if parts.dbf_decodes(named):
            return named
        detected = parts.detect()
        if detected is None:
            raise _undetected(source)
        info.notes.append(
            f"The .cpg file says the text is {cpg_text}, but it is not; read it as {detected}."
        )
        return detected
    if cpg_text:  # an unusual code page: GDAL knows more of them
        info.encoding = cpg_text
        return None
    detected = parts.detect()
    if detected is None:
        raise _undetected(source)
    return detected


def _undetected(source: str) -> EncodingError:
    return EncodingError(
        "Could not tell the text encoding of the shapefile's .dbf (it is neither UTF-8 nor "
        "GBK/GB18030, and there is no .cpg file). Name it with --encoding, for example "
        "--encoding big5.",
        source=source,
    )


def read_shapefile(
    p: Path, info: ReadInfo, encoding: str | None, layer_name: str | None, prefer: str | None
) -> gpd.GeoDataFrame:
    """Read a shapefile (``.shp`` with its parts beside it, or a ``.zip`` holding one)."""
    zipped = p.suffix.lower() == ".zip"
    parts = _zipped_parts(p, layer_name, info) if zipped else _loose_parts(p)
    info.layer = parts.stem
    info.missing_parts = [ext for ext in (".prj", ".cpg") if ext not in parts.present]
    prj = parts.small.get(".prj")
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
    source, parts.gdal = parts.gdal, b""  # GDAL reads its own copy: let ours go with the call
    frame = read_ogr(source, info, encoding=use)
    del source
    if frame.crs is not None:
        info.crs = pyproj.CRS(frame.crs)
    return frame
