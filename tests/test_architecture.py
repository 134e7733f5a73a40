"""The folder tree is the architecture: imports only run down the layers, and no module of
core/ or gui/ takes part in an import cycle (imports inside functions count too: a cycle
broken by a late import is still a cycle).

The layers, lowest first (docs/architecture.md draws them):

- the kernel, the modules in core/ itself (errors, progress, units, fs, lock, crashpoint);
- ``format`` (the wire format, pure) and, above it, ``delta`` (patch codecs and their
  worker pool) and ``net`` (the transport seam, HTTP rules, bounds, the repository source);
- ``trust`` (signed repositories: TUF metadata verified through the transport seam);
- ``gog`` (GOG's hosts as a source plug-in), ``gamedir`` (what lives in a game's
  ``.slipstream/``) and ``library`` (the player's database and settings);
- ``update`` (the operations), and on the server side ``publish`` and ``serve``;
- ``demo``, then ``cli`` and ``gui`` on top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Which packages each layer may import (besides itself). The kernel imports only itself.
ALLOWED: dict[str, set[str]] = {
    "kernel": set(),
    "format": {"kernel"},
    "delta": {"kernel", "format"},
    "net": {"kernel", "format"},
    "trust": {"kernel", "format", "net"},
    "gog": {"kernel", "format", "net", "trust"},
    "gamedir": {"kernel", "format"},
    "library": {"kernel", "format"},
    "update": {"kernel", "format", "delta", "net", "trust", "gog", "gamedir", "library"},
    "publish": {"kernel", "format", "delta", "trust"},
    "serve": {"kernel", "format"},
    "demo": {"kernel", "format", "trust", "gamedir", "library", "update", "publish", "serve"},
    "cli": {
        "kernel",
        *("format", "delta", "net", "trust", "gog", "gamedir", "library", "update"),
        *("publish", "serve", "demo"),
    },
    "gui": {
        "kernel",
        *("format", "delta", "net", "trust", "gog", "gamedir", "library", "update"),
        *("publish", "serve", "demo", "cli"),
    },
}
CLIENT_SIDE = {"format", "delta", "net", "trust", "gog", "gamedir", "library", "update"}
KERNEL_MAX_MODULES = 8


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for top in ("core", "gui"):
        for path in sorted((ROOT / top).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = modules()


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "gui":
        return "gui"
    if len(parts) == 1:
        return "kernel"
    package = ".".join(parts[:2])
    if package in MODULES and MODULES[package].name == "__init__.py":
        return parts[1]
    return "kernel"


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import of a core or gui module, wherever it stands."""
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from core.x import y`` imports the module core.x.y when there is one.
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if sub in MODULES else base


def project_imports(path: Path) -> Iterator[tuple[int, str]]:
    for line, target in imports_of(path):
        if target.split(".")[0] in ("core", "gui") and target in MODULES:
            yield line, target


def test_the_layer_rules_know_every_package_of_core() -> None:
    packages = {layer_of(m) for m in MODULES}
    assert packages == set(ALLOWED), "a new package needs its place in ALLOWED"


def test_core_itself_holds_only_the_kernel() -> None:
    kernel = [p.name for p in (ROOT / "core").glob("*.py")]
    assert len(kernel) <= KERNEL_MAX_MODULES, sorted(kernel)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers(module: str) -> None:
    layer = layer_of(module)
    wrong = []
    for line, target in project_imports(MODULES[module]):
        other = layer_of(target)
        if other != layer and other not in ALLOWED[layer]:
            wrong.append(f"line {line}: {target} ({other} is above {layer})")
    assert not wrong, f"{module} imports up the layers:\n" + "\n".join(wrong)


def test_the_client_never_imports_the_server_side() -> None:
    for layer in CLIENT_SIDE:
        assert not ALLOWED[layer] & {"publish", "serve", "demo"}, layer


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_find_cycles_finds_a_cycle_and_only_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_core_or_gui() -> None:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        # A package's __init__ re-exporting its own modules is not a dependency between
        # modules: the edge that counts is the one to the module that holds the name.
        graph[module] = {
            target
            for _, target in project_imports(path)
            if target != module and not (path.name == "__init__.py" and target.startswith(module))
        }
    assert find_cycles(graph) == []
