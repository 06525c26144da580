"""tests/bilingual.py tells a message said in both languages from a half-translated one."""

from __future__ import annotations

import pytest

from tests.bilingual import english_part, says_both, says_en, says_zh

GOOD = "There is no grid 'nope'. (没有编码为“nope”的网格。)"


def test_a_message_in_both_languages_passes_with_what_it_names():
    assert says_en(GOOD, "no grid", "nope") and says_zh(GOOD, "nope", "没有编码")
    assert says_both(GOOD, "no grid", "网格")
    assert not says_zh(GOOD, "320102001001001") and not says_en(GOOD, "overlap")
    # a Chinese-only text (a note's zh-CN, a finding's message_zh) is a clause itself
    assert says_zh("未作改动：所选范围已在网格 320102001001001 内，未保存。", "320102001001001")
    # full-width brackets nest in the clause; a gloss in the English part is no Chinese clause
    nested = (
        "'geometry' must be an outline (Polygon): Layer 'grids' (网格) needs a geometry. "
        "(geometry 应为 GeoJSON 格式的边界（多边形），经纬度坐标。)"
    )
    assert says_en(nested, "needs a geometry") and says_zh(nested, "边界（多边形）")
    assert "网格" not in english_part(nested)


@pytest.mark.parametrize(
    "message",
    [
        "Bad shape (outline应为多边形。)",  # an English word glued to the Chinese
        "code (网格编码) 'X' is already used in row 1: each row needs its own.",  # a gloss only
        "Not valid (Self-intersection[1 2]). (边界无效：Self-intersection[1 2]。)",  # GEOS's words
        "Grid A is stale. (网格 A was changed by admin。)",  # English prose in the clause
        "Grid A is stale. (网格 A 已被修改)",  # no sentence: no 。
        "Grid A is stale. (已改。)",  # too short to say anything
        "Grid A is stale.",  # no Chinese at all
    ],
)
def test_a_half_translated_message_fails_in_chinese(message):
    assert not says_zh(message)


@pytest.mark.parametrize(
    "message",
    [
        "网格 A 已被修改。",  # no English at all
        "网格 A must be reloaded. (网格 A 已被修改，请重新加载。)",  # Han outside the clause
        "Stale! (网格 A 已被修改，请重新加载。)",  # no English clause of three words
    ],
)
def test_a_half_translated_message_fails_in_english(message):
    assert not says_en(message)
