"""Text encodings: decode a user's text, or tell UTF-8 from GBK and GB18030.

Chinese files come in UTF-8 (with or without BOM) as often as in GBK; GB18030 covers what GBK
lacks. Detection tries them in that order; an explicit encoding always wins. :func:`decodes`
checks a stream of chunks (a shapefile's .dbf) in constant memory.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

from gridmap.errors import EncodingError

__all__ = ["DETECT_ORDER", "decode_text", "decodes", "line_of", "lookup_encoding"]

#: Encodings tried, in order, when the file does not say.
DETECT_ORDER: tuple[str, ...] = ("utf-8", "gbk", "gb18030")


def line_of(data: bytes, offset: int) -> int:
    """Return the 1-based line number of byte ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1


def lookup_encoding(encoding: str, *, source: str | None) -> str:
    """Return Python's name of ``encoding``; raise EncodingError for an unknown one."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise EncodingError(
            f"Unknown text encoding '{encoding}'. Try utf-8, gbk or gb18030.", source=source
        ) from None


def decode_text(
    data: bytes, encoding: str | None = None, *, source: str | None = None
) -> tuple[str, str]:
    """Decode ``data`` with ``encoding``, or detect UTF-8 / GBK / GB18030; return text and name.

    Parameters
    ----------
    data
        The file's bytes.
    encoding
        The encoding the user named (any Python codec name), or None to detect it.
    source
        The file name, for messages.

    Returns
    -------
    tuple of str
        The text and the codec used ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", ...).

    Raises
    ------
    EncodingError
        The named encoding is unknown or does not fit, or no encoding could be detected; the
        message names the first line that does not decode.
    """
    if encoding:
        name = lookup_encoding(encoding, source=source)
        if name == "utf-8" and data.startswith(codecs.BOM_UTF8):
            name = "utf-8-sig"
        try:
            return data.decode(name), name
        except UnicodeDecodeError as exc:
            raise EncodingError(
                f"The file is not valid {encoding}: the bytes at line {line_of(data, exc.start)} "
                "cannot be decoded. Check the --encoding you gave (or leave it out to detect it).",
                source=source,
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    first_error = 0
    for name in ("utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8", "gbk", "gb18030"):
        try:
            return data.decode(name), name
        except UnicodeDecodeError as exc:
            first_error = first_error or exc.start
    raise EncodingError(
        "Could not tell the text encoding of the file: it is neither UTF-8 nor GBK/GB18030 "
        f"(undecodable bytes at line {line_of(data, first_error)}). Name the encoding with "
        "--encoding, for example --encoding big5.",
        source=source,
    )


def decodes(chunks: Iterable[bytes], encoding: str) -> bool:
    """Return whether a stream of byte chunks decodes as ``encoding``, in constant memory.

    Stops at the first byte that does not decode; ASCII chunks are skipped where no multi-byte
    sequence is pending, since they decode the same in every candidate.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        for chunk in chunks:
            if chunk.isascii() and not decoder.getstate()[0]:
                continue
            decoder.decode(chunk)
        decoder.decode(b"", True)
    except UnicodeDecodeError:
        return False
    return True
