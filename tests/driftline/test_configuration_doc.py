"""docs/configuration.md is generated from the settings classes and names every variable."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from driftline.settings_doc import SETTINGS_CLASSES, own_fields, render, settings_classes

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "configuration.md"
PACKAGES = ("driftline", "producers", "scorer", "monitor", "retrainer")
NAME = re.compile(r"DRIFTLINE_[A-Z0-9_]+")


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_committed_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is out of date: run "
        "`python -m driftline.settings_doc --write docs/configuration.md` (or `make docs`)"
    )


def test_every_variable_the_code_names_is_on_the_page() -> None:
    page = PAGE.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(DRIFTLINE_[A-Z0-9_]+)`", page))
    named: dict[str, str] = {}
    for path in _sources():
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            if not name.endswith("_"):  # a prefix such as DRIFTLINE_KAFKA_, not a variable
                named.setdefault(name, str(path.relative_to(REPO)))
    missing = {name: where for name, where in named.items() if name not in documented}
    assert not missing, f"named in the code but not on docs/configuration.md: {missing}"


def test_every_setting_has_a_description() -> None:
    for cls in settings_classes():
        for name, info in own_fields(cls):
            assert info.description, f"{cls.__name__}.{name} has no description="


def _settings_classes_in_source() -> set[str]:
    """``module:Class`` of every class in the packages that derives, directly or through
    another such class, from pydantic-settings' BaseSettings (found by name, without
    importing the modules)."""
    bases: dict[str, tuple[str, set[str]]] = {}
    for path in _sources():
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                         for b in node.bases}
                bases[f"{module.removesuffix('.__init__')}:{node.name}"] = (node.name, names)
    settings = {"BaseSettings"}
    found: set[str] = set()
    while True:
        new = {target for target, (name, parents) in bases.items()
               if parents & settings and target not in found}
        if not new:
            return found
        found |= new
        settings |= {bases[target][0] for target in new}


def test_every_settings_class_is_documented() -> None:
    listed = {section.target for section in SETTINGS_CLASSES}
    in_source = _settings_classes_in_source()
    assert "driftline.settings:DriftlineSettings" in in_source  # the scan finds them
    assert in_source == listed, (
        f"add to (or remove from) driftline.settings_doc.SETTINGS_CLASSES: "
        f"{sorted(in_source ^ listed)}"
    )


@pytest.mark.parametrize("section", SETTINGS_CLASSES, ids=lambda s: s.target)
def test_every_section_is_on_the_page(section) -> None:
    assert f"## {section.title}\n" in PAGE.read_text(encoding="utf-8")
