"""Open a user's zip archive (a zipped shapefile, an .xlsx) without letting it flood memory.

A zip says how large each member unpacks to, but that can be a lie, and an honest one can still
be a bomb (a 1.5 MB zip holding a 1.5 GB ``.cpg``). :func:`open_zip` refuses, before unpacking
anything, an archive with too many members, a member whose name leads outside the archive
(``../``, an absolute path), a symbolic link, or declared sizes over the :class:`ArchiveLimits`.
:func:`read_member` then unpacks a member in chunks and counts the bytes that really come out,
stopping at the member's cap and at what is left of the archive's budget, so a lying header
cannot get past either. Nothing is written to disk.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from gridmap.errors import ArchiveError, InputError

__all__ = [
    "ARCHIVE_ENDINGS",
    "ArchiveLimits",
    "Budget",
    "iter_member",
    "open_zip",
    "read_member",
    "size_text",
]

#: Member endings of archives inside an archive: never opened, but named when nothing else fits.
ARCHIVE_ENDINGS = (".zip", ".kmz", ".rar", ".7z", ".gz", ".tgz", ".tar", ".bz2", ".xz")

_CHUNK = 1 << 20
_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


@dataclass(frozen=True)
class ArchiveLimits:
    """How much a user's archive may hold and unpack to (bytes, counted as they unpack).

    ``max_member_bytes`` caps each member, ``max_total_bytes`` all members read together,
    ``max_members`` how many members the archive may list. The defaults fit a city's buildings
    as a zipped shapefile (a few hundred MB unpacked) with room to spare.
    """

    max_members: int = 2000
    max_member_bytes: int = 512 * 2**20
    max_total_bytes: int = 1024 * 2**20


@dataclass
class Budget:
    """What is left of an archive's ``max_total_bytes`` as members are read."""

    limits: ArchiveLimits
    used: int = 0
    source: str = ""
    members: list[str] = field(default_factory=list)


def size_text(n: int) -> str:
    """Return a byte count as a planner reads it: 850 bytes, 64 KB, 3.0 MB, 1.5 GB (powers of 1024)."""
    if n < 1024:
        return f"{n} bytes"
    if n < 2**20:
        return f"{n / 1024:.0f} KB"
    if n < 2**30:
        mb = n / 2**20
        return f"{mb:.1f} MB" if mb < 100 else f"{mb:.0f} MB"
    return f"{n / 2**30:.1f} GB"


def _damaged(source: str, name: str, detail: str) -> ArchiveError:
    return ArchiveError(
        f"'{name}' in the archive is damaged: {detail}. Make the zip again from the original "
        "files.",
        source=source,
    )


def _directory_size(fp: object, size: int) -> tuple[int, int] | None:
    """Return (entries, bytes) of the central directory as the end record declares them."""
    tail_len = min(size, 22 + 65535)
    fp.seek(size - tail_len)  # type: ignore[attr-defined]
    tail = fp.read(tail_len)  # type: ignore[attr-defined]
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    entries, cd_bytes = struct.unpack("<HI", tail[at + 10 : at + 16])
    if (entries == 0xFFFF or cd_bytes == 0xFFFFFFFF) and at >= 20:
        locator = tail[at - 20 : at]
        if locator[:4] == _ZIP64_LOCATOR:
            (offset,) = struct.unpack("<Q", locator[8:16])
            if 0 <= offset < size:
                fp.seek(offset)  # type: ignore[attr-defined]
                record = fp.read(56)  # type: ignore[attr-defined]
                if record[:4] == _ZIP64_EOCD and len(record) == 56:
                    entries, cd_bytes = struct.unpack("<QQ", record[32:48])
    return int(entries), int(cd_bytes)


def _check_member_name(info: zipfile.ZipInfo, source: str) -> None:
    name = info.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise ArchiveError(
            f"The archive holds a file named '{name}', a path that leads outside the archive. "
            "gridmap refuses such archives: zip the files again from their folder.",
            source=source,
        )
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_ISLNK(mode):
        raise ArchiveError(
            f"'{name}' is a symbolic link, not a file: an archive to import must hold the files "
            "themselves. Zip them again without links.",
            source=source,
        )


def open_zip(
    path: str | os.PathLike[str], limits: ArchiveLimits, *, source: str, what: str = "zip archive"
) -> zipfile.ZipFile:
    """Open ``path`` as a zip after checking its members against ``limits``; raise InputError.

    Checks, before anything is unpacked: the member count (read from the end record, so an
    archive of millions of entries is refused before Python lists them), member names (no
    ``../``, no absolute paths, no name twice), no symbolic links, and the declared sizes per
    member and in all.
    """
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fp:
        declared = _directory_size(fp, size)
    if declared is None:
        raise ArchiveError(f"The file is not a valid {what}.", source=source)
    entries, cd_bytes = declared
    too_many = InputError(
        f"The archive holds {entries} files: gridmap opens archives of at most "
        f"{limits.max_members}. Zip only the files to import.",
        source=source,
    )
    if entries > limits.max_members or cd_bytes > 1024 * max(limits.max_members, 1):
        raise too_many
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ArchiveError(f"The file is not a valid {what}.", source=source) from None
    except NotImplementedError as exc:  # a zip format version Python does not read
        raise ArchiveError(
            f"The file is not a {what} gridmap can open ({exc}). Zip the files again with "
            "ordinary (Deflate) compression.",
            source=source,
        ) from None
    try:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveError(
                f"The archive holds {len(infos)} files: gridmap opens archives of at most "
                f"{limits.max_members}. Zip only the files to import.",
                source=source,
            )
        total = 0
        seen: set[str] = set()
        for info in infos:
            _check_member_name(info, source)
            if info.filename in seen:
                raise ArchiveError(
                    f"The archive holds two files named '{info.filename}': programs disagree on "
                    "which of them is meant, so gridmap does not guess. Zip the files again.",
                    source=source,
                )
            seen.add(info.filename)
            if info.file_size > limits.max_member_bytes:
                raise ArchiveError(
                    f"'{info.filename}' would unpack to {size_text(info.file_size)}, more than "
                    f"{size_text(limits.max_member_bytes)}, the most one file in an archive may "
                    "unpack to. Such an archive is damaged or made to exhaust memory (a zip bomb); "
                    "gridmap does not unpack it.",
                    source=source,
                )
            total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveError(
                f"The archive would unpack to {size_text(total)} in all, more than "
                f"{size_text(limits.max_total_bytes)}, the most an archive may unpack to. Zip "
                "only the files to import, or split the data.",
                source=source,
            )
    except BaseException:
        zf.close()
        raise
    return zf


def iter_member(
    zf: zipfile.ZipFile,
    name: str,
    budget: Budget,
    *,
    cap: int | None = None,
    why: str = "",
) -> Iterator[bytes]:
    """Yield one member's bytes in chunks as they unpack; stop at ``cap`` and at the budget.

    ``cap`` (bytes) is this member's own limit, below the archive's per-member one (a ``.cpg``
    holds a code page name, a few bytes); ``why`` says why, for the message. Raises InputError
    when a limit is passed or the member does not unpack (damaged, encrypted, unknown method).
    Bytes count against ``budget`` as they come out.
    """
    limits = budget.limits
    member_cap = min(cap, limits.max_member_bytes) if cap is not None else limits.max_member_bytes
    got = 0
    source = budget.source
    try:
        with zf.open(name) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                got += len(chunk)
                if got > member_cap:
                    reason = f" ({why})" if why else ""
                    raise ArchiveError(
                        f"'{name}' unpacks to more than {size_text(member_cap)}, the most such a "
                        f"file may hold{reason}. The archive is damaged or made to exhaust memory "
                        "(a zip bomb); gridmap does not unpack it.",
                        source=source,
                    )
                budget.used += len(chunk)
                if budget.used > limits.max_total_bytes:
                    raise ArchiveError(
                        f"The archive unpacks to more than {size_text(limits.max_total_bytes)} in "
                        "all, the most an archive may unpack to. Zip only the files to import.",
                        source=source,
                    )
                yield chunk
    except ArchiveError:
        raise  # our own limits: already said plainly
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _damaged(source, name, f"it does not unpack ({exc})") from None
    except RuntimeError as exc:  # encrypted members
        raise ArchiveError(
            f"'{name}' cannot be unpacked: {exc}. Zip the files again without a password.",
            source=source,
        ) from None
    except NotImplementedError as exc:
        raise ArchiveError(
            f"'{name}' cannot be unpacked: {exc}. Zip the files again with ordinary (Deflate) "
            "compression.",
            source=source,
        ) from None
    info = zf.getinfo(name)
    if got != info.file_size:
        raise _damaged(
            source, name, f"it unpacks to {got} bytes, not the {info.file_size} it declares"
        )
    budget.members.append(name)


def read_member(
    zf: zipfile.ZipFile,
    name: str,
    budget: Budget,
    *,
    cap: int | None = None,
    why: str = "",
) -> bytes:
    """Unpack one member whole, through :func:`iter_member` (counted, capped)."""
    return b"".join(iter_member(zf, name, budget, cap=cap, why=why))
