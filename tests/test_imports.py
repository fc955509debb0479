"""The package's shape, read from its import statements: the face talks only to the service, and no
module imports itself back through others.

Every import counts: at module level, inside functions (the lazy ones) and under TYPE_CHECKING,
because a lazy import is still a dependency, only a slower one to fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "assistant"
FACE = ("assistant.cli", "assistant.web", "ui")
BEHIND_THE_SERVICE = ("assistant.store", "assistant.ingest")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in (ROOT / PACKAGE).rglob("*.py")}
    found["ui"] = ROOT / "ui.py"
    return found


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The package modules ``path`` imports anywhere in its body, resolved to module names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)  # `from assistant import ingest`
    return {t for t in targets if t in known and t != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(path, name, known) for name, path in modules.items()}
    return {name: {t for t in targets if t != PACKAGE} for name, targets in graph.items()}


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def test_the_graph_sees_lazy_and_type_checking_imports(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from assistant.store import Store\n"
        "def later():\n    from assistant import ingest\n"
    )
    module = tmp_path / "probe.py"
    module.write_text(source, encoding="utf-8")
    assert _imports(module, "probe", {"assistant.store", "assistant.ingest"}) == {"assistant.store", "assistant.ingest"}


@pytest.mark.parametrize("face", FACE)
def test_the_face_imports_neither_the_store_nor_ingestion(face: str) -> None:
    graph = _graph()
    modules = [m for m in graph if m == face or m.startswith(face + ".")]
    assert modules, f"{face} not found"
    for module in modules:
        direct = {t for t in graph[module] for hidden in BEHIND_THE_SERVICE
                  if t == hidden or t.startswith(hidden + ".")}
        assert not direct, f"{module} imports {sorted(direct)}; go through assistant.service.Assistant"


def test_the_package_has_no_import_cycle() -> None:
    graph = _graph()
    cycles = sorted(m for m in graph if m in _reaches(graph, m))
    assert not cycles, f"modules that import themselves through others: {cycles}"


def test_errors_users_catch_come_from_one_module() -> None:
    """Exceptions are defined in assistant/errors.py only, so catching one never imports its raiser."""
    elsewhere = []
    for name, path in _modules().items():
        if name == "assistant.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and b.id.endswith(("Error", "Exception")) for b in node.bases):
                elsewhere.append(f"{name}.{node.name}")
    assert not elsewhere, f"exceptions defined outside assistant/errors.py: {elsewhere}"


def test_the_command_line_starts_without_langchains_retriever_machinery() -> None:
    """Every `assistant` command pays its imports; LangChain's retriever (and the tracing it pulls in) is
    only for ``Assistant.as_retriever``, so the command line must not load it."""
    import subprocess
    import sys

    probe = "import sys, assistant.cli; print(sorted(m for m in sys.modules if m.startswith('langchain_core.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert "langchain_core.retrievers" not in loaded.stdout and "langchain_core.tracers" not in loaded.stdout
    assert "langchain_core.embeddings" in loaded.stdout  # the probe sees what is loaded
