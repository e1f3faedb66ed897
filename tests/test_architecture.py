"""The house's rules, checked on the code itself: every dashboard module lives in a room, rooms import
downward only, pages import rooms (never each other), the engine imports no app library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
#: The dashboard's rooms, ground floor first; a room may import its own modules and the rooms below it.
ROOMS = ("config", "vocabulary", "figures", "catalog", "learning", "io", "diagnose", "shell")
APP_LIBRARIES = ("streamlit", "plotly", "pandas", "dashboard")


def imported_modules(path: Path, source: str | None = None) -> list[str]:
    """Every module ``path`` (or ``source`` as if it were that file) imports: absolute names, relative
    imports resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            names += [f"{base}.{a.name}" for a in node.names]
    return names


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "dashboard" and parts[1] in ROOMS else None


def test_every_dashboard_module_lives_in_a_room():
    flat = [p.name for p in (ROOT / "dashboard").glob("*.py") if p.name != "__init__.py"]
    assert not flat, f"modules directly in dashboard/: {flat}; move each into the room that holds its idea"
    rooms = {p.name for p in (ROOT / "dashboard").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms == set(ROOMS), rooms ^ set(ROOMS)


def upward_imports(path: Path, source: str | None = None) -> list[str]:
    """The modules of rooms above ``path``'s own room that it imports."""
    here = path.relative_to(ROOT).parts[1]
    rank = ROOMS.index(here) if here in ROOMS else len(ROOMS)
    return [m for m in imported_modules(path, source) if room_of(m) and ROOMS.index(room_of(m)) > rank]


@pytest.mark.parametrize("path", sorted((ROOT / "dashboard").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_rooms_import_downward_only(path):
    assert not upward_imports(path), f"{path.relative_to(ROOT)} imports from a room above it: {upward_imports(path)}"


@pytest.mark.parametrize("path", sorted((ROOT / "pages").glob("*.py")), ids=lambda p: p.name)
def test_pages_import_rooms_never_each_other(path):
    imported = imported_modules(path)
    assert not [m for m in imported if m.startswith("pages")], "a page imports another page's code"
    assert not [m for m in imported if m.startswith("dashboard.") and not room_of(m)], imported


def test_the_engine_imports_no_app_library():
    for path in (ROOT / "bptt_core").rglob("*.py"):
        banned = [
            m for m in imported_modules(path) if m.split(".")[0] in ("streamlit", "plotly", "pandas", "dashboard")
        ]
        assert not banned, f"{path.relative_to(ROOT)} imports {banned}"


def test_the_rules_see_an_upward_import():
    """The rule can fail: a figure importing the app shell (absolute or relative) is caught."""
    figure = ROOT / "dashboard" / "figures" / "flow.py"
    assert upward_imports(figure, "from dashboard.shell import cache\n") == ["dashboard.shell.cache"]
    assert upward_imports(figure, "from ..catalog import panels\n") == ["dashboard.catalog.panels"]
    assert upward_imports(figure, "from ..config import cell_views\n") == []
