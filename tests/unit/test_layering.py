"""The layers of DESIGN.md, checked on the source: imports point one way.

commands -> workflows -> core / adapters; core imports no adapters, workflows, commands, typer or
rich; only console.py imports rich; commands and workflows reach an adapter only inside the function
that builds it (workflows otherwise take the Protocols of workflows/ports.py; for helm, not even
under TYPE_CHECKING).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cli" / "vllmctl"

# Workflows that still import an adapter at module level, each with why. Shrink this list; never grow it.
MODULE_LEVEL_ADAPTERS = {
    "workflows/api.py": "the OpenAI-compatible endpoint client (adapters/openai_http) is what these flows drive",
    "workflows/bench.py": "the same endpoint client's streaming pool",
    "workflows/models.py": "local files only (adapters/files: atomic write under a lock)",
    "workflows/render.py": "local files only (adapters/files: atomic write)",
}


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(imported module, enclosing function or None for module level) for every import in `path`."""
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                continue  # names for annotations only: nothing is imported when the module runs
            if isinstance(child, ast.Import):
                found.extend((a.name, function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, function))
                found.extend((f"{child.module}.{a.name}", function) for a in child.names)
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return found


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).glob("*.py"))


def _is(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", _modules("core"), ids=lambda p: p.name)
def test_core_is_pure(path):
    bad = [m for m, _ in _imports(path)
           if _is(m, "vllmctl.adapters", "vllmctl.workflows", "vllmctl.commands", "vllmctl.console", "typer",
                  "rich", "click")]
    assert not bad, f"core/{path.name} imports {bad}"


@pytest.mark.parametrize("path", _modules("adapters"), ids=lambda p: p.name)
def test_adapters_know_no_layer_above(path):
    bad = [m for m, _ in _imports(path)
           if _is(m, "vllmctl.workflows", "vllmctl.commands", "vllmctl.console", "typer", "rich", "click")]
    assert not bad, f"adapters/{path.name} imports {bad}"


@pytest.mark.parametrize("path", _modules("workflows"), ids=lambda p: p.name)
def test_workflows_reach_adapters_only_where_they_build_them(path):
    imports = _imports(path)
    upward = [m for m, _ in imports if _is(m, "vllmctl.commands", "vllmctl.console", "typer", "rich", "click")]
    assert not upward, f"workflows/{path.name} imports {upward}"
    key = f"workflows/{path.name}"
    top = sorted({m for m, fn in imports if fn is None and _is(m, "vllmctl.adapters")})
    if key in MODULE_LEVEL_ADAPTERS:
        assert top, f"{key} no longer imports adapters at module level: remove it from MODULE_LEVEL_ADAPTERS"
    else:
        assert not top, (f"{key} imports {top} at module level: take a Protocol of workflows/ports.py and build "
                         "the adapter inside the function that connects")


def _builds(function: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
               for n in ast.walk(function))


@pytest.mark.parametrize("path", _modules("workflows"), ids=lambda p: p.name)
def test_workflows_import_helm_only_where_they_build_it(path):
    """The workflows drive helm through workflows.ports.HelmReleases; adapters.helm (its names for
    annotations included) is imported only inside a function that builds the real Helm."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    builders = [f for f in ast.walk(tree)
                if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) and _builds(f, "Helm")]
    allowed = {id(n) for f in builders for n in ast.walk(f)}
    bad = [f"line {n.lineno}" for n in ast.walk(tree)
           if isinstance(n, ast.ImportFrom) and n.module == "vllmctl.adapters.helm" and id(n) not in allowed]
    assert not bad, (f"workflows/{path.name} imports vllmctl.adapters.helm outside a function that builds a Helm "
                     f"({', '.join(bad)}): type it as workflows.ports.HelmReleases")


@pytest.mark.parametrize("path", _modules("commands"), ids=lambda p: p.name)
def test_commands_build_adapters_but_do_not_drive_them(path):
    imports = _imports(path)
    top = [m for m, fn in imports if fn is None and _is(m, "vllmctl.adapters", "vllmctl.core.engine_args")]
    assert not top, f"commands/{path.name} imports {top} at module level"
    # register() may mount another module's command under a group (`chart values`); nothing else may
    # reach into another command
    other_commands = [m for m, fn in imports if _is(m, "vllmctl.commands") and fn != "register"
                      and not _is(m, "vllmctl.commands.interactive", "vllmctl.commands.options",
                                  "vllmctl.commands.smoke_report")
                      and path.name != "app.py"]
    assert not other_commands, f"commands/{path.name} imports another command's module: {other_commands}"


def test_only_console_imports_rich():
    bad = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
           if p.name != "console.py" and any(_is(m, "rich") for m, _ in _imports(p))]
    assert not bad
