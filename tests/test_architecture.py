"""The shape of the code: layers that only point down, no private names across modules, no
function-level import that only dodges a cycle.

The layer contract itself is declared in ``pyproject.toml`` (``[tool.importlinter]``) and
checked by import-linter in ``make lint``; :func:`test_layer_contract` runs it here too, so the
test suite fails on an upward import as well. The two other rules are not import-linter
contracts, so they are checked here on the syntax tree of every module under ``src/natwin``.
"""

from __future__ import annotations

import ast
import io
import os
import tokenize
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "natwin"


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # the natwin module imported from (absolute)
    names: tuple[str, ...]  # the names imported (empty for ``import natwin.x``)
    in_function: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    if not node.level:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _imports(path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ImportFrom):
                module = _absolute(child, path)
                if module == "natwin" or module.startswith("natwin."):
                    names = tuple(alias.name for alias in child.names)
                    found.append(Import(path, child.lineno, module, names, in_function))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name == "natwin" or alias.name.startswith("natwin."):
                        found.append(Import(path, child.lineno, alias.name, (), in_function))
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, inner)

    visit(tree, False)
    return found


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _comments(path: Path) -> dict[int, str]:
    """Comment text by line number."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return {tok.start[0]: tok.string for tok in tokens if tok.type == tokenize.COMMENT}


def _reason(path: Path, line: int, comments: dict[int, str]) -> str | None:
    """The comment that explains the import at ``line``: on the line itself, or on the comment
    line directly above it or above the run of import lines it belongs to."""
    if line in comments:
        return comments[line]
    lines = path.read_text(encoding="utf-8").splitlines()
    row = line - 1  # 1-based line above
    while row >= 1:
        text = lines[row - 1].strip()
        if row in comments and text.startswith("#"):
            return comments[row]
        if not text.startswith(("from ", "import ", ")")) and not text.endswith((",", "(")):
            return None
        row -= 1
    return None


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_private_names_across_modules():
    """A module imports only public names of another module (a leading underscore is private)."""
    offenders = []
    for path in _sources():
        own = _module_name(path)
        for imp in _imports(path):
            if imp.module == own:
                continue
            private = [n for n in imp.names if _is_private(n)]
            dotted = [p for p in imp.module.split(".") if _is_private(p)]
            if private or dotted:
                rel = path.relative_to(ROOT)
                offenders.append(f"{rel}:{imp.line}: from {imp.module} import {', '.join(private or dotted)}")
    assert not offenders, "private names imported from another module:\n" + "\n".join(offenders)


def test_no_private_attributes_of_imported_modules():
    """``module._name`` on an imported natwin module is a private import in disguise."""
    offenders = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _absolute(node, path).startswith("natwin"):
                base = _absolute(node, path)
                for alias in node.names:
                    if (SRC.parent / Path(*f"{base}.{alias.name}".split("."))).exists() or (
                        SRC.parent / Path(*f"{base}.{alias.name}".split("."))
                    ).with_suffix(".py").exists():
                        modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("natwin") and alias.asname:
                        modules.add(alias.asname)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and _is_private(node.attr)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not offenders, "private attributes of other modules used:\n" + "\n".join(offenders)


def test_function_level_imports_say_why():
    """An ``import natwin...`` inside a function must carry a comment saying why (for example
    a slow dependency that only one command needs); an import that only dodges an import cycle
    belongs at the top of the module, and the cycle must go."""
    offenders = []
    for path in _sources():
        comments = _comments(path)
        for imp in _imports(path):
            if imp.in_function and not _reason(path, imp.line, comments):
                offenders.append(f"{path.relative_to(ROOT)}:{imp.line}: {imp.module}")
    assert not offenders, (
        "function-level imports without a comment saying why (move them to the top of the "
        "module, or say why they are lazy):\n" + "\n".join(offenders)
    )


def test_the_checks_can_fail(tmp_path):
    """The syntax-tree helpers find what they look for (guards against a check that never fires)."""
    sample = tmp_path / "probe.py"
    text = (
        "def f():\n"
        "    from natwin.report.files import _hidden\n"
        "\n"
        "\n"
        "def g():\n"
        "    # lazy: plotly loads only for the report\n"
        "    from natwin.report import html\n"
        "    from natwin import store  # lazy: duckdb\n"
    )
    sample.write_text(text, encoding="utf-8")
    imports = _imports(sample)
    comments = _comments(sample)
    assert [(i.line, i.in_function) for i in imports] == [(2, True), (7, True), (8, True)]
    assert _is_private(imports[0].names[0])
    assert _reason(sample, 2, comments) is None
    assert _reason(sample, 7, comments) == "# lazy: plotly loads only for the report"
    assert _reason(sample, 8, comments) == "# lazy: duckdb"


def test_layer_contract():
    """The import-linter contracts of pyproject.toml hold (layers point down, no cycles)."""
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(io.StringIO()) as out:
            status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    finally:
        os.chdir(cwd)
    assert status == 0, out.getvalue()


#: Longest function a reader is asked to hold (def line to last line, docstring included).
MAX_FUNCTION_LINES = 80


def _long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions over ``limit`` lines whose ``def`` line has no ``# long: <reason>`` comment."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit and "# long:" not in lines[node.lineno - 1]:
                found.append(f"{path.name}:{node.lineno}: {node.name} ({length} lines)")
    return found


def test_functions_fit_in_a_reader_s_head():
    long = [f"{p.parent.relative_to(ROOT)}/{e}" for p in sorted(SRC.rglob("*.py")) for e in _long_functions(p)]
    assert not long, "split these into named steps (or say why on the def line: # long: reason):\n" + "\n".join(long)


def test_the_function_length_check_can_fail(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(85))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long_one():\n{body}\n\n\ndef excused():  # long: a table\n{body}\n", encoding="utf-8")
    assert _long_functions(sample) == ["sample.py:1: long_one (86 lines)"]


CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")


def _conflict_markers(paths: list[Path]) -> list[str]:
    """Lines that start with a merge-conflict marker, as 'file:line'."""
    return [
        f"{p.name}:{n}"
        for p in paths
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if line.startswith(CONFLICT_MARKERS)
    ]


def test_no_merge_conflict_markers_left():
    paths = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(SRC.rglob("*.py")),
             *sorted((ROOT / "tests").rglob("*.py")), *sorted(SRC.rglob("*.toml"))]
    paths = [p for p in paths if p.name != "test_architecture.py"]
    assert not _conflict_markers(paths)


def test_the_conflict_marker_check_can_fail(tmp_path):
    sample = tmp_path / "README.md"
    sample.write_text("text\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n", encoding="utf-8")
    assert _conflict_markers([sample]) == ["README.md:2", "README.md:6"]
