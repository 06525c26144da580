"""The workbench tools' UI strings: both languages say the same things."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

I18N = Path(__file__).resolve().parent.parent / "web" / "static" / "i18n"
TOOLS = sorted((I18N / "tools").glob("*.json"))


@pytest.mark.parametrize("path", TOOLS, ids=[p.stem for p in TOOLS])
def test_tool_strings_come_in_both_languages(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert set(doc) == {"zh-CN", "en"}, f"{path.name}: top-level keys must be zh-CN and en"
    assert sorted(set(doc["zh-CN"]) ^ set(doc["en"])) == []
    assert all(isinstance(v, str) and v for v in [*doc["zh-CN"].values(), *doc["en"].values()])
    main = json.loads((I18N / "en.json").read_text(encoding="utf-8"))
    clash = sorted(set(doc["en"]) & set(main))
    assert clash == [], f"{path.name} redefines keys of en.json: {clash}"
