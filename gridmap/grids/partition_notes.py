"""The notes a partition closes with, in English and Chinese: what its figures are about."""

from __future__ import annotations


def closing_notes(
    *, drawn: bool, communities: list[tuple[str, str]], outside: int
) -> list[tuple[str, str]]:
    """Return the (English, Chinese) notes on what a partition's figures cover.

    Parameters
    ----------
    drawn
        Whether the communities were drawn first (none were given): the objective and bound
        are then for grids within the drawn ones.
    communities
        The (code, name) of each community partitioned.
    outside
        How many buildings lie outside every community partitioned (they were left out).
    """
    notes: list[tuple[str, str]] = []
    if drawn:
        notes.append(
            (
                "communities drawn first; objective and bound are for grids within them",
                "先划分社区；目标值与下界仅针对社区内的网格",
            )
        )
    if outside:
        if len(communities) == 1:
            code, name = communities[0]
            where = f"community {code} {name}, the one drawn,"
            where_zh = f"所划分的社区 {code} {name}"
        else:
            where = f"the {len(communities)} communities drawn"
            where_zh = f"所划分的 {len(communities)} 个社区"
        notes.append(
            (
                f"{outside} building(s) lie outside {where} and were left out",
                f"{outside} 栋楼位于{where_zh}之外，未纳入划分",
            )
        )
    return notes
