"""The house's rules, checked on the code itself: every dashboard module lives in a room, rooms import
downward only, pages import rooms (never each other), the engine imports no app library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bptt_core as bc

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


#: Where a cell's name may decide what runs: the cell modules and the presentation table.
NAME_BRANCHES_ALLOWED = ("bptt_core/cells/", "dashboard/config/cell_views.py")
CELL_NAMES = frozenset(bc.CELLS)


def _identifiers(node: ast.AST) -> list[str]:
    """The names an expression reads through: ``config.cell`` -> [config, cell]; ``s["cell"]`` -> [s, cell]."""
    out = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.append(sub.attr)
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant):
            out.append(str(sub.slice.value))
    return out


def _cell_like(node: ast.AST) -> bool:
    """An expression that holds a cell's name: a name, attribute or key with "cell" in it (``cell``,
    ``spec.cell``, ``settings["cell"]``, ``CELL``), not a literal."""
    return not isinstance(node, ast.Constant) and any("cell" in name.lower() for name in _identifiers(node))


def _cell_names(node: ast.AST) -> set[str]:
    """The registered cell names a literal spells: ``"rnn"``, ``("lstm", "gru")``, ``{"rnn": ...}``'s keys."""
    if isinstance(node, ast.Constant) and node.value in CELL_NAMES:
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in CELL_NAMES}
    if isinstance(node, ast.Dict):
        return {k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in CELL_NAMES}
    return set()


def name_branches(source: str) -> list[tuple[int, str]]:
    """Where ``source`` decides by a cell's name: a comparison or membership test of a cell-like expression against
    a cell-name literal (``cell == "rnn"``, ``spec.cell in ("lstm", "gru")``), a ``match`` on one, or a literal
    table indexed by one (``{"rnn": nn.RNN, ...}[cell]``); not a test's ``assert`` on a result. (line, source text)
    of each."""
    tree, hits = ast.parse(source), []
    checks = {id(n) for a in ast.walk(tree) if isinstance(a, ast.Assert) for n in ast.walk(a.test)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and id(node) not in checks:  # an assert checks a result, it decides nothing
            sides = [node.left, *node.comparators]
            if any(_cell_names(s) for s in sides) and any(_cell_like(s) for s in sides):
                hits.append(node)
        elif isinstance(node, ast.Subscript) and _cell_names(node.value) and _cell_like(node.slice):
            hits.append(node)
        elif isinstance(node, ast.Match) and _cell_like(node.subject):
            values = [p for case in node.cases for p in ast.walk(case.pattern) if isinstance(p, ast.MatchValue)]
            hits += [node for p in values if _cell_names(p.value)][:1]
    return [(n.lineno, ast.get_source_segment(source, n) or "") for n in hits]


def _python_files() -> list[Path]:
    skip = (".git", ".venv", "build", "node_modules")
    files = [p for p in ROOT.rglob("*.py") if not any(part in skip for part in p.relative_to(ROOT).parts)]
    return sorted(p for p in files if not str(p.relative_to(ROOT)).startswith(NAME_BRANCHES_ALLOWED))


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_branches_on_a_cells_name_outside_the_cells_and_their_presentation(path):
    """What cells differ by is in the registry (``torch_module``, ``chooses_activation``, ``forget_gate``,
    ``decay``, ...): asking it, not the name, is what lets a new cell be one module, one registry line and one
    presentation entry."""
    found = name_branches(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(ROOT)} branches on a cell's name: {found}; ask bc.CELLS[...] instead"


def test_the_name_rule_sees_a_branch_and_passes_other_strings():
    """The rule can fail, and it is precise: branches on a cell's name in every form are caught; a task called
    "copy", a loss "mse", a cell compared with a variable, or a literal list of cells to run are not."""
    caught = [
        'if cell == "rnn": pass',
        'x = a if config.cell != "lstm" else b',
        'ok = spec.cell in ("lstm", "gru")',
        'ok = "gru" == settings["cell"]',
        'm = {"rnn": 1, "lstm": 4}[CELL]',
        'match spec.cell:\n    case "lru":\n        pass',
    ]
    for source in caught:
        assert len(name_branches(source)) == 1, source
    passed = [
        'if task == "copy": pass',
        'if loss == "mse": pass',
        "if cell == other_cell: pass",
        'for cell in ("rnn", "lstm"): pass',
        'config = RunConfig(cell="lstm")',
        'if name == "rnn": pass',
        'if c.torch_module == "RNN": pass',
        'assert model.spec.cell == "lstm"',
    ]
    for source in passed:
        assert not name_branches(source), source


def test_reproduce_scripts_do_not_branch_on_a_cells_name():
    """The generated PyTorch script is code a user reads: it asks the registry's facts too."""
    from dashboard.diagnose import reproduce
    from dashboard.diagnose.model_files import Model

    for name in bc.CELLS:
        spec = bc.RNNSpec(name, 3, 4, 2)
        model = Model(spec, bc.init_params(spec), None, {"readout": "fc.weight", "embedding": "none"}, {}, "rnn")
        assert not name_branches(reproduce.script(model, "model.pt", "mse")), name
