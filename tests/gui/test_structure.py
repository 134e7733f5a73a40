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


QT_SLOTS = {"accept", "reject", "deleteLater"}
"""Qt's own slots, which keep Qt's names."""


def misnamed_slots(source: str, filename: str = "<source>") -> list[str]:
    """``file:line name`` for each method of ``self`` a signal is connected to, directly
    or through a lambda, that is neither named ``_on_<sender>_<signal>`` nor a signal nor
    one of :data:`QT_SLOTS`. (A slot of another object, as ``window.bring_forward`` in
    gui/app.py, is that object's public API.)"""
    tree = ast.parse(source, filename)
    signals = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "Signal"
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "connect"
            and node.args
        ):
            continue
        slot = node.args[0]
        if isinstance(slot, ast.Lambda) and isinstance(slot.body, ast.Call):
            slot = slot.body.func
        if not (isinstance(slot, ast.Attribute) and ast.unparse(slot.value) == "self"):
            continue
        name = slot.attr
        if not (name.startswith("_on_") or name in signals or name in QT_SLOTS):
            found.append(f"{filename}:{node.lineno} {name}")
    return found


def test_the_slot_checker_flags_a_slot_not_named_after_its_signal() -> None:
    source = (
        "class W:\n"
        "    changed = Signal(str)\n"
        "    def wire(self) -> None:\n"
        "        self.button.clicked.connect(self.update_now)\n"
        "        self.button.clicked.connect(lambda: self.refresh(1))\n"
        "        self.button.clicked.connect(self._on_button_clicked)\n"
        "        self.view.changed.connect(lambda *_: self._on_view_changed())\n"
        "        self.job.done.connect(self.changed)\n"
        "        self.box.rejected.connect(self.reject)\n"
        "        single.activated.connect(window.bring_forward)\n"
    )
    assert misnamed_slots(source) == ["<source>:4 update_now", "<source>:5 refresh"]


def test_every_slot_in_gui_is_named_after_its_sender_and_signal() -> None:
    found = []
    for path in sorted(GUI.rglob("*.py")):
        found += misnamed_slots(path.read_text(), str(path.relative_to(GUI.parent)))
    assert not found, "name these slots _on_<sender>_<signal>:\n" + "\n".join(found)
