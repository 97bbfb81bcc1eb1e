"""The pipeline's modules import each other in one direction only: no import circle, not even through an import
inside a function (a lazy import hides a circle from Python, not from the design).

The graph is read from the source with ``ast``: every ``import`` / ``from … import`` anywhere in a module of
``gateway.pipeline`` that names another module of ``gateway.pipeline`` is an edge.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import gateway.pipeline

PACKAGE = "gateway.pipeline"
SOURCE = Path(gateway.pipeline.__file__).parent


def pipeline_modules() -> dict[str, Path]:
    return {f"{PACKAGE}.{path.stem}": path for path in sorted(SOURCE.glob("*.py")) if path.stem != "__init__"}


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The pipeline modules ``path`` imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # from gateway.pipeline import x
    return found & modules


def import_graph() -> dict[str, set[str]]:
    modules = pipeline_modules()
    return {name: imported_modules(path, set(modules)) - {name} for name, path in modules.items()}


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    assert len(graph) >= 20
    # Known edges, so an empty graph (a parser that finds nothing) cannot pass the test below.
    assert f"{PACKAGE}.delivery" in graph[f"{PACKAGE}.actors"]
    assert f"{PACKAGE}.outbox" in graph[f"{PACKAGE}.delivery"]


def test_pipeline_modules_import_each_other_without_a_circle() -> None:
    try:
        order = list(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle among gateway.pipeline modules: {' -> '.join(exc.args[1])}") from None
    assert set(order) == set(pipeline_modules())
