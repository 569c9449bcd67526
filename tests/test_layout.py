"""The package's shape: imports run one way (no circle, even through a function-level
import or `importlib.import_module`), the library never imports a command line, and
modules stay small."""

import ast
import re
from pathlib import Path

import cnnbench

PACKAGE = Path(cnnbench.__file__).parent
COMMAND_LINES = {
    "cnnbench.cli",
    "cnnbench.sweep_cli",
    "cnnbench.place_cli",
    "cnnbench.report.cli",
    "cnnbench.__main__",
    "cnnbench.report.__main__",
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _dynamic(node: ast.AST, modules) -> list[str]:
    """The modules an `importlib.import_module(...)` call may load: its argument as a
    pattern, each f-string placeholder standing for any name."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
        and node.args
    ):
        return []
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.JoinedStr):
        pattern = "".join(
            re.escape(part.value) if isinstance(part, ast.Constant) else r"\w+"
            for part in arg.values
        )
        return [m for m in modules if re.fullmatch(pattern, m)]
    return []  # a name in a variable (a framework's, for its version): not ours to follow


def _imports() -> dict[str, set[str]]:
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                targets = _dynamic(node, modules)
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def test_no_import_circle():
    graph, done, path = _imports(), set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_an_importlib_edge_is_an_edge():
    graph = _imports()
    assert {f"cnnbench.native.{b}_impl" for b in ("jax", "torch", "tensorflow")} <= graph[
        "cnnbench.native"
    ]


def test_the_library_never_imports_a_command_line():
    for name, targets in _imports().items():
        if name not in COMMAND_LINES:
            assert not targets & COMMAND_LINES, f"{name} imports {targets & COMMAND_LINES}"


def test_modules_stay_small_and_say_what_they_do():
    for name, path in _modules().items():
        lines = len(path.read_text().splitlines())
        assert lines <= 300, f"{name}: {lines} lines"
        assert ast.get_docstring(ast.parse(path.read_text())), f"{name} has no docstring"


def test_the_tested_package_is_the_installed_one_when_ci_says_so():
    import os

    import cnnbench.native.jax_impl  # noqa: F401  (subpackages ship in the wheel)
    import cnnbench.report.cli  # noqa: F401

    if os.environ.get("CNNBENCH_EXPECT_INSTALLED"):
        assert "site-packages" in cnnbench.__file__, cnnbench.__file__


def test_every_module_has_its_line_in_the_layout_doc():
    checkout = Path(__file__).parent.parent
    doc = (checkout / "docs" / "layout.md").read_text()
    listed = doc[doc.index("<!-- modules:start -->") : doc.index("<!-- modules:end -->")]
    package = checkout / "cnnbench"
    for path in sorted(package.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        name = path.relative_to(package.parent).as_posix()
        assert f"- `{name}`: " in listed, f"docs/layout.md lists no {name}"


def test_the_readme_verdict_is_six_short_lines_at_most():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start, end = "<!-- cnnbench:verdict:start -->", "<!-- cnnbench:verdict:end -->"
    lines = readme[readme.index(start) + len(start) : readme.index(end)].strip().splitlines()
    assert 1 <= len(lines) <= 6, lines
    assert all(len(line) <= 200 for line in lines), max(lines, key=len)


def test_an_unmarked_test_that_imports_keras_fails_in_the_neutral_pass():
    """The neutral pass (tests/conftest.py) runs with a backend Keras does not have, so a
    test that needs a backend and is not marked per_backend fails there, loudly, instead
    of passing once on whichever backend it met. That holds only while Keras refuses an
    unknown backend at import."""
    import os
    import subprocess
    import sys

    from conftest import NEUTRAL_BACKEND

    env = {**os.environ, "KERAS_BACKEND": NEUTRAL_BACKEND}
    done = subprocess.run([sys.executable, "-c", "import keras"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0 and NEUTRAL_BACKEND in done.stderr


def test_an_any_backend_test_runs_in_exactly_one_of_the_ci_passes():
    """tox.ini's passes, read from its commands: a per_backend test runs in every backend
    pass, an any_backend one in ANY_BACKEND's alone, an unmarked one in the neutral pass."""
    import configparser

    from conftest import ANY_BACKEND, runs_in

    from cnnbench.backend import BACKENDS

    tox = configparser.ConfigParser(interpolation=None)
    tox.read(Path(__file__).resolve().parents[1] / "tox.ini")
    commands = tox["testenv:tests"]["commands"].replace("\\\n", " ")
    passes = re.findall(r"CNNBENCH_TEST_PASS=(\w+)(?: KERAS_BACKEND=(\w+))?", commands)
    assert passes[0] == ("neutral", "") and sorted(b for _, b in passes[1:]) == sorted(BACKENDS)
    marks = {"unmarked": set(), "per": {"per_backend"}, "any": {"any_backend"},
             "both": {"per_backend", "any_backend"}}
    ran = {kind: [p for p in passes if runs_in(*p, m)] for kind, m in marks.items()}
    assert ran["unmarked"] == passes[:1] and ran["per"] == passes[1:]
    assert ran["any"] == ran["both"] == [("backend", ANY_BACKEND)]
    assert all(runs_in(None, "jax", m) for m in marks.values())  # no pass named: all run
