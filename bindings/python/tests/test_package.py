"""The package itself: its names, its checked-in stubs, and the README example."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import interlink
from interlink import _interlink

HERE = Path(__file__).resolve().parent
STUB = Path(interlink.__file__).with_name("_interlink.pyi")


def stub_names():
    """Top-level names of the stub, and for each class the names it declares."""
    tree = ast.parse(STUB.read_text())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
        if isinstance(node, ast.ClassDef):
            members = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.add(item.name)
                elif isinstance(item, ast.AnnAssign):
                    members.add(item.target.id)
            classes[node.name] = {m for m in members if not m.startswith("__")}
    return top, classes


def test_the_stubs_match_the_native_module():
    top, classes = stub_names()
    native = {n for n in dir(_interlink) if not n.startswith("__") or n == "__version__"}
    assert native == top
    for name, members in classes.items():
        cls = getattr(_interlink, name)
        actual = {m for m in dir(cls) if not m.startswith("__")} - set(dir(object))
        assert actual == members, name


def test_every_exported_name_exists():
    for name in interlink.__all__:
        assert hasattr(interlink, name), name
    assert interlink.__version__ == "0.1.0"
    assert (HERE.parent / "python/interlink/py.typed").exists()


def readme_example() -> str:
    """The first ```python block of the binding's README."""
    text = (HERE.parent / "README.md").read_text()
    return text.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_example_and_examples_quickstart_run():
    for args in (["-c", readme_example()], [str(HERE.parent / "examples/quickstart.py")]):
        out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == ["200 hello, relay", "ping", "NotFoundError 404 not_found"]
