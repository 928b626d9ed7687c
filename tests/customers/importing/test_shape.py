"""The import package stays in shape: short functions, and none that nothing calls."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "customers" / "services" / "importing"
COMMAND = ROOT / "customers" / "management" / "commands" / "import_customers.py"
MAX_LINES = 80
# Called by the machinery, not by name: io.RawIOBase's protocol and the command's hooks.
PROTOCOL = {"readable", "readinto", "add_arguments", "handle"}


def _functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def function_lengths() -> dict[str, int]:
    """Lines of every function of the package and the command, decorators included."""
    lengths = {}
    for path in [*sorted(PACKAGE.glob("*.py")), COMMAND]:
        for node in _functions(path):
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            lengths[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = (
                node.end_lineno - first + 1
            )
    return lengths


def test_no_function_is_longer_than_80_lines():
    lengths = function_lengths()
    assert lengths  # the walk found the package
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert not too_long


def test_every_function_of_the_package_is_used():
    defined = {
        node.name
        for path in PACKAGE.glob("*.py")
        for node in _functions(path)
        if not node.name.startswith("__")
    }
    used: set[str] = set()
    for folder in ("customers", "tests", "groups", "backoffice"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                elif isinstance(node, ast.Attribute):
                    used.add(node.attr)
                elif isinstance(node, ast.alias):
                    used.add(node.name.rpartition(".")[2])
    assert defined - used - PROTOCOL == set()
