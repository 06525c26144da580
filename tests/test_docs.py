"""Documentation stays true: the layer page matches the schema, the README its commands."""

from __future__ import annotations

from pathlib import Path

from gridmap.schema.doc import render_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_layer_docs_are_current():
    text = (ROOT / "docs" / "layers.md").read_text(encoding="utf-8")
    assert text == render_markdown(), "docs/layers.md is stale: run scripts/gen_layer_docs"


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "scripts/demo" in readme and "scripts/test" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci


def test_role_guides_exist():
    for role in ("planner", "patrol-lead", "grid-worker", "analyst"):
        assert (ROOT / "docs" / f"{role}.md").exists(), role
