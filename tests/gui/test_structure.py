"""The shape of gui/: no function or method longer than :data:`MAX_LINES`.

A window whose methods run to a hundred lines is where behaviour hides; short builders
and slots are what let a reader find the one that draws a widget or answers a click.
"""

from __future__ import annotations

import ast
from pathlib import Path

GUI = Path(__file__).resolve().parents[2] / "gui"
MAX_LINES = 60


def long_functions(source: str, filename: str = "<source>") -> list[str]:
    """``file:line name (N lines)`` for each function or method longer than MAX_LINES,
    counted from its ``def`` (decorators left out) to its last line."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            if length > MAX_LINES:
                found.append(f"{filename}:{node.lineno} {node.name} ({length} lines)")
    return found


def function_source(name: str, body_lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(body_lines))
    return f"{indent}def {name}() -> None:\n{body}"


def test_the_checker_flags_a_long_function_and_a_long_method() -> None:
    long_one = function_source("long_one", MAX_LINES)  # the def line makes it MAX_LINES + 1
    method = "class A:\n" + function_source("long_method", MAX_LINES, indent="    ")
    assert long_functions(long_one) == [f"<source>:1 long_one ({MAX_LINES + 1} lines)"]
    assert long_functions(method) == [f"<source>:2 long_method ({MAX_LINES + 1} lines)"]


def test_the_checker_lets_a_function_of_the_limit_pass() -> None:
    fits = function_source("fits", MAX_LINES - 1)
    assert long_functions(fits) == []


def test_the_checker_finds_a_long_function_nested_in_a_short_file() -> None:
    inner = function_source("inner", MAX_LINES + 5, indent="    ")
    assert [f.split()[1] for f in long_functions(f"def outer() -> None:\n{inner}")] == [
        "outer",
        "inner",
    ]


def test_no_function_in_gui_is_longer_than_the_limit() -> None:
    found = []
    for path in sorted(GUI.rglob("*.py")):
        found += long_functions(path.read_text(), str(path.relative_to(GUI.parent)))
    assert not found, "split these into smaller functions:\n" + "\n".join(found)
