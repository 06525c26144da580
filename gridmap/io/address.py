"""Unit, floor and room of a household address: what a street office's register strings say.

A register often has no columns for the unit (单元), floor (层) or room (室) of a household,
only its address: ``凯润金城6栋1单元302室``, ``3-2-301``, ``2单元1层``, ``301室``. :func:`parse_room`
reads them back: unit 1, floor 3, room 302 for the first. The floor comes from an explicit
marker (``3层``, ``3楼``, ``3F``, ``负1层``) or else from the room number (``302`` → 3,
``1502`` → 15: the last two digits number the door on its floor). Chinese numerals
(``二单元``, ``十二层``), full-width digits and English words (``Unit 2``, ``Room 302``,
``3rd floor``) are read too. What the rules cannot read stays None: a missing part is never
guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN = "零〇一二两三四五六七八九十"


def chinese_number(text: str) -> int | None:
    """Return the value of a Chinese numeral below 100 (``十二`` → 12, ``三`` → 3), else None."""
    if not text or any(c not in _CN for c in text):
        return None
    if "十" not in text:
        if len(text) != 1:
            return None
        return _CN_DIGITS[text]
    tens, _, ones = text.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    high = _CN_DIGITS.get(tens, -1) if tens else 1
    low = _CN_DIGITS.get(ones, -1) if ones else 0
    if high < 1 or low < 0:
        return None
    return high * 10 + low


@dataclass(frozen=True)
class RoomAddress:
    """The parts of a household address below the street: building, unit, floor, room.

    ``building`` and ``unit`` are text as written (``"6"``, ``"A"``); ``floor`` is a storey
    number (1 the ground floor, negative below ground); ``room`` the door number as written
    (``"302"``, ``"302A"``). Each is None when the address does not say.
    """

    building: str | None = None
    unit: str | None = None
    floor: int | None = None
    room: str | None = None


# A number as the patterns accept it: digits, or a Chinese numeral below 100.
_NUM = rf"(\d+|[{_CN}]+)"
_BUILDING = re.compile(
    rf"{_NUM}\s*(?:号楼|栋|幢|座)|\b(?:block|building|bldg)\.?\s*(\d+|[A-Za-z])\b", re.IGNORECASE
)
_UNIT = re.compile(rf"(\d+|[A-Za-z]|[{_CN}]+)\s*单元|\bunit\s*(\d+|[A-Za-z])\b", re.IGNORECASE)
_FLOOR = re.compile(
    rf"(负|地下|-|B)?\s*{_NUM}\s*(?:层|楼(?!\s*\d*\s*单元)(?!栋|幢|座)|F\b)"
    r"|\b(\d+)\s*(?:st|nd|rd|th)?\s*floor\b|\bfloor\s*(\d+)\b",
    re.IGNORECASE,
)
_ROOM = re.compile(
    r"([A-Za-z]?\d+[A-Za-z]?)\s*(?:室|号房|房|户)|\b(?:room|rm|flat|apt)\.?\s*([A-Za-z]?\d+[A-Za-z]?)\b",
    re.IGNORECASE,
)
# A door number right after the unit, without 室: "1单元302".
_BARE_ROOM = re.compile(r"单元\s*([A-Za-z]?\d{3,5}[A-Za-z]?)\s*$")
# "3-2-301" (building-unit-room) or "2-301" (unit-room) at the end, or before 室.
_DASHES = re.compile(r"(\d+)\s*-\s*(\d+)(?:\s*-\s*(\d+))?\s*(?:室)?$")


def _number(text: str) -> str:
    """Return digits for a numeral as matched (``二`` → ``2``; digits stay as they are)."""
    value = chinese_number(text)
    return str(value) if value is not None else text.upper()


def _floor_of_room(room: str) -> int | None:
    """Return the floor a door number names: all but its last two digits (``1502`` → 15)."""
    digits = re.sub(r"\D", "", room)
    if len(digits) < 3:
        return None
    floor = int(digits[:-2])
    return floor or None


def parse_room(value: Any) -> RoomAddress:
    """Return the building, unit, floor and room an address names (parts it lacks are None).

    Parameters
    ----------
    value
        A household address as a register writes it, in Chinese or English; None, NaN or
        text without any unit, floor or room gives an empty :class:`RoomAddress`.

    Returns
    -------
    RoomAddress
        ``凯润金城6栋1单元302室`` → building ``6``, unit ``1``, floor 3, room ``302``;
        ``3-2-301`` → building ``3``, unit ``2``, floor 3, room ``301``; ``2单元1层`` → unit
        ``2``, floor 1; ``301室`` → floor 3, room ``301``.
    """
    if value is None or not isinstance(value, str):
        return RoomAddress()
    text = unicodedata.normalize("NFKC", value).strip()
    text = re.sub(r"[－—–]", "-", text)
    if not text:
        return RoomAddress()
    building = unit = room = None
    floor: int | None = None
    dashes = _DASHES.search(text)
    if dashes and not re.search(r"(单元|室|层)", text[: dashes.start()]):
        first, second, third = dashes.groups()
        if third is not None:
            building, unit, room = first, second, third
        elif len(second) >= 3:
            unit, room = first, second
        else:
            building, unit = first, second
        text = text[: dashes.start()]
    if found := _BUILDING.search(text):
        building = building or _number(found.group(1) or found.group(2))
    if found := _UNIT.search(text):
        unit = unit or _number(found.group(1) or found.group(2))
    if found := _ROOM.search(text) or _BARE_ROOM.search(text):
        room = room or (found.group(1) or found.group(2)).upper()
    rest = text
    for pattern in (_ROOM, _BARE_ROOM, _UNIT, _BUILDING):  # "302室" must not read as floor "302楼"…
        rest = pattern.sub(" ", rest)
    if found := _FLOOR.search(rest):
        below, number, en_a, en_b = found.groups()
        parsed = chinese_number(number) if number and not number.isdigit() else None
        digits = number if number and number.isdigit() else (en_a or en_b)
        level = parsed if parsed is not None else (int(digits) if digits else None)
        if level is not None:
            floor = -level if below else level
    if floor is None and room is not None:
        floor = _floor_of_room(room)
    return RoomAddress(building=building, unit=unit, floor=floor, room=room)
