"""``groups`` is the lower app: it imports nothing from ``customers``, names none of its fields."""

import ast
from pathlib import Path

import groups

GROUPS_DIR = Path(groups.__file__).parent


def test_groups_imports_nothing_from_customers():
    offenders = []
    for path in sorted(GROUPS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "customers"]
    assert offenders == []


def test_groups_code_names_no_customer_field():
    sources = {path.name: path.read_text(encoding="utf-8") for path in GROUPS_DIR.glob("*.py")}
    assert [name for name, text in sources.items() if "customers__" in text] == []
