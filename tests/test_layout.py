"""The package's architecture, checked on its import graph: one folder per role, and imports only downward.

validation  <-  nn, data  <-  instruments  <-  experiments  <-  book

A module may import from its own folder and from the roles below it, never from a role above or beside it; the
top-level ``gatedrnn/__init__.py`` (the short public surface) may import from all of them. Every import counts,
including those inside functions. The checker itself is tested on a small tree with a wrong import, so that a
mistake in it cannot make the rule pass by seeing nothing.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "code" / "gatedrnn"
# role -> the roles its modules may import from (besides their own)
ALLOWED = {
    "validation": set(),
    "nn": {"validation"},
    "data": {"validation"},
    "instruments": {"validation", "nn"},
    "experiments": {"validation", "nn", "data", "instruments"},
    "book": {"validation", "nn", "data", "instruments", "experiments"},
}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The package's modules that the module ``name`` at ``path`` imports (a package when no module is named)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import, resolved against the module's own package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    root = next(iter(known)).split(".")[0]
    return {target for target in found if target == root or target.startswith(root + ".")}


def role(name: str) -> str | None:
    """The role of a module: the folder below the package, or ``validation``; None for the package's top."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def graph(root: Path) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imports(path, name, set(found)) for name, path in found.items()}


def upward_imports(root: Path) -> list[str]:
    """Each import that breaks the rule, as 'importer -> imported (role -> role)'."""
    broken = []
    for name, targets in graph(root).items():
        if role(name) is None:
            continue
        for target in sorted(targets):
            if role(target) is None and target != name:
                broken.append(f"{name} -> {target} (the package's top)")
            elif role(target) not in ALLOWED[role(name)] | {role(name)}:
                broken.append(f"{name} -> {target} ({role(name)} -> {role(target)})")
    return broken


def cycles(root: Path) -> list[list[str]]:
    """Cycles among the modules below the package's top (a module importing itself through others)."""
    edges = {name: {t for t in targets if role(t) and t != name} for name, targets in graph(root).items() if role(name)}
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_every_module_has_a_role():
    names = modules(PACKAGE)
    assert "gatedrnn.validation" in names
    roles = {role(name) for name in names} - {None}
    assert roles == set(ALLOWED), roles
    flat = sorted(name for name in names if name.count(".") == 1 and name != "gatedrnn.validation"
                  and not (PACKAGE / name.split(".")[1]).is_dir())
    assert not flat, f"modules outside the role folders: {flat}"


def test_imports_go_only_downward():
    assert upward_imports(PACKAGE) == []


def test_no_import_cycles():
    assert cycles(PACKAGE) == []


def test_the_public_surface_stays_short():
    import gatedrnn

    assert gatedrnn.__version__ == "0.2.0"
    assert {"RNN", "LSTM", "GRU", "MinGRU", "MinLSTM", "grad_norms_through_time", "by_profile"} <= set(gatedrnn.__all__)
    assert len(gatedrnn.__all__) <= 30


@pytest.fixture
def tree(tmp_path):
    """A small package 'pkg' with the same roles."""
    root = tmp_path / "pkg"
    for folder in ALLOWED:
        if folder != "validation":
            (root / folder).mkdir(parents=True)
            (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("from pkg.nn import cells\n")
    (root / "validation.py").write_text("")
    (root / "nn" / "cells.py").write_text("from pkg import validation\n")
    (root / "nn" / "layers.py").write_text("from pkg.nn.cells import step\n")
    (root / "instruments" / "gradients.py").write_text("from pkg.nn import layers\n")
    return root


def test_the_checker_passes_a_tree_that_keeps_the_rule(tree):
    assert upward_imports(tree) == [] and cycles(tree) == []


@pytest.mark.parametrize("module, source, expected", [
    ("nn/layers.py", "def f():\n    from pkg.instruments import gradients\n",
     "pkg.nn.layers -> pkg.instruments.gradients (nn -> instruments)"),
    ("data/tasks.py", "import pkg.nn.cells\n", "pkg.data.tasks -> pkg.nn.cells (data -> nn)"),
    ("nn/cells.py", "from ..book import plotting\n", "pkg.nn.cells -> pkg.book (nn -> book)"),
    ("nn/cells.py", "import pkg\n", "pkg.nn.cells -> pkg (the package's top)"),
])
def test_the_checker_names_an_upward_import(tree, module, source, expected):
    (tree / module).write_text(source)
    assert expected in upward_imports(tree)


def test_the_checker_finds_a_cycle(tree):
    (tree / "nn" / "cells.py").write_text("from pkg.nn import layers\n")
    (found,) = cycles(tree)
    assert found[0] == found[-1] and set(found) == {"pkg.nn.cells", "pkg.nn.layers"}


def test_the_api_page_documents_every_module_under_its_folder():
    page = (PACKAGE.parents[1] / "chapters" / "api.md").read_text()
    documented = [line.split("::")[1].strip() for line in page.splitlines() if line.startswith(".. automodule::")]
    expected = sorted(name for name in modules(PACKAGE) if role(name) and (name.count(".") == 2
                                                                             or name == "gatedrnn.validation"))
    assert sorted(documented) == expected
    sections = [line for line in page.splitlines() if line.startswith("## ")]
    assert [s.split("`")[1] for s in sections] == [f"gatedrnn.{r}" for r in ALLOWED if r != "validation"] + [
        "gatedrnn.validation"]
