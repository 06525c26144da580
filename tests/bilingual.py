"""Whether an error message says what is wrong in Chinese AND in English, each in full.

gridmap's messages read ``English sentence(s). (中文句子。)``: the English first, then the
Chinese as a bracketed clause. Testing for *some* Han character lets a half-translated message
pass — ``Bad shape (outline应为多边形。)`` or a Chinese clause that carries the English reason
(``(边界无效：Self-intersection[…]。)``) — so the tests ask :func:`says_zh` and :func:`says_en`.

A **Chinese clause** is a bracketed group, ``(…)`` or ``（…）`` at the top level of the message
(or the whole text, for a Chinese-only string such as a note's ``zh-CN``) that

- holds at least 4 Han characters (a phrase, not one word glued on) and ends in Chinese
  sentence punctuation (。！？): a sentence, not a gloss such as ``code (网格编码)``,
- has no Latin letter touching a Han character (``outline应为``: the house style sets a code or
  a name off with a space or a quote, ``网格 320102001001001 的``),
- has no English prose: no two Latin words in a row (``must be``) and no Capitalised English
  word (``Self-intersection``, ``Layer``); single names, codes and values — ``op``,
  ``neighbours``, ``GeoJSON``, ``UTC``, ``320102001001001`` — are fine.

The **English part** is the message without its bracketed groups that hold Han characters
(a short gloss such as ``'grids' (网格)`` is one); it must hold no Han character and a clause of
at least three English words ending in ``.``, ``!`` or ``?``.
"""

from __future__ import annotations

import re

HAN = re.compile(r"[\u4e00-\u9fff]")
_ZH_END = re.compile(r"[。！？][”’」』)）\s]*$")
_GLUED = re.compile(r"[A-Za-z][\u4e00-\u9fff]|[\u4e00-\u9fff][A-Za-z]")
_PHRASE = re.compile(r"\b[A-Za-z]+ +[A-Za-z]+\b")
_TITLE_WORD = re.compile(r"\b[A-Z][a-z]{2,}\b")
_EN_CLAUSE = re.compile(r"\b[A-Za-z]+(?:[ ,'’-]+[A-Za-z]+){2,}[^.!?]*[.!?]")
_OPEN, _CLOSE = "(（", ")）"


def groups(message: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each top-level bracketed group of ``message``, brackets
    included; ``(`` and ``（`` open alike, ``)`` and ``）`` close alike."""
    out: list[tuple[int, int]] = []
    depth, start = 0, 0
    for i, ch in enumerate(message):
        if ch in _OPEN:
            if depth == 0:
                start = i
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
            if depth == 0:
                out.append((start, i + 1))
    return out


def chinese_clauses(message: str) -> list[str]:
    """Return the bracketed groups of ``message`` that hold Han characters, brackets stripped;
    a message that opens with a Han character is one clause itself."""
    if HAN.match(message.strip()):
        return [message.strip()]
    return [message[a + 1 : b - 1] for a, b in groups(message) if HAN.search(message[a:b])]


def english_part(message: str) -> str:
    """Return ``message`` without its bracketed groups that hold Han characters."""
    out, at = [], 0
    for a, b in groups(message):
        if HAN.search(message[a:b]):
            out.append(message[at:a])
            at = b
    out.append(message[at:])
    return "".join(out)


def full_chinese(clause: str) -> bool:
    """Whether ``clause`` is a whole Chinese sentence (see the module)."""
    return bool(
        len(HAN.findall(clause)) >= 4
        and _ZH_END.search(clause)
        and not _GLUED.search(clause)
        and not _PHRASE.search(clause)
        and not _TITLE_WORD.search(clause)
    )


def says_zh(message: str, *fragments: str) -> bool:
    """Whether ``message`` holds a whole Chinese clause (see the module) that holds every one of
    ``fragments`` (what it must name: the word for the problem, a grid code)."""
    return any(full_chinese(c) and all(f in c for f in fragments) for c in chinese_clauses(message))


def says_en(message: str, *fragments: str) -> bool:
    """Whether ``message``'s English part (see the module) is English with no Han character,
    holds a clause of three words or more ending in . ! or ?, and holds every one of
    ``fragments`` (case-insensitive)."""
    text = english_part(message)
    return bool(
        not HAN.search(text)
        and _EN_CLAUSE.search(text)
        and all(f.lower() in text.lower() for f in fragments)
    )


def says_both(message: str, en: str | None = None, zh: str | None = None) -> bool:
    """Whether ``message`` says it in English (with ``en``) and in Chinese (with ``zh``)."""
    return says_en(message, *([en] if en else [])) and says_zh(message, *([zh] if zh else []))
