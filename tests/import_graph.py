"""The import graph of a package, read from the source with ``ast`` (nothing is imported).

``python -m tests.import_graph [--packages] [package]`` prints it, one module per line with what
it imports (default ``server.web``; ``--packages``: each subpackage as one node).
``tests/test_imports.py`` fails on a cycle (between modules, or between subpackages taken as one
node each) or on an import held inside a function. Only imports
that run count: those under ``if TYPE_CHECKING:`` are for the type checker.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Graph:
    package: str
    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> modules it imports
    late: list[str] = field(default_factory=list)  # "module:line imported" inside a function

    def cycles(self) -> list[list[str]]:
        """The strongly connected groups of more than one module (Tarjan), each sorted."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(node: str) -> None:
            index[node] = low[node] = len(index)
            stack.append(node)
            on_stack.add(node)
            for target in sorted(self.edges.get(node, ())):
                if target not in index:
                    visit(target)
                    low[node] = min(low[node], low[target])
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    group.append(top)
                    if top == node:
                        break
                if len(group) > 1 or node in self.edges.get(node, ()):
                    found.append(sorted(group))

        for node in sorted(self.edges):
            if node not in index:
                visit(node)
        return found

    def render(self) -> str:
        prefix = self.package + "."
        lines = []
        for module in sorted(self.edges):
            targets = ", ".join(sorted(t.removeprefix(prefix) for t in self.edges[module]))
            lines.append(f"{module.removeprefix(prefix)} -> {targets or '(nothing)'}")
        return "\n".join(lines)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Dotted names an import statement may load, most specific first."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _walk(
    graph: Graph, node: ast.AST, module: str, files: dict[str, Path], in_function: bool
) -> set[str]:
    """The package's modules imported under ``node`` (noting those imported in a function)."""
    is_package = files[module].name == "__init__.py"
    targets: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                targets |= _walk(graph, other, module, files, in_function)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            names = _imported(child, module, is_package)
            hits = [n for n in names if n in files]
            # "from pkg import a, b": each module named; else the module it comes from
            for target in [n for n in hits if n != names[-1]] or hits[:1]:
                if target != module:
                    targets.add(target)
                    if in_function:
                        graph.late.append(f"{module}:{child.lineno} imports {target}")
            continue
        inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        targets |= _walk(graph, child, module, files, inner)
    return targets


def build(package: str = "server.web", root: Path = ROOT) -> Graph:
    """The graph of ``package`` under ``root``: only edges between its own modules."""
    folder = root.joinpath(*package.split("."))
    files = {_module_name(p, root): p for p in sorted(folder.rglob("*.py"))}
    graph = Graph(package)
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph.edges[module] = _walk(graph, tree, module, files, False)
    return graph


def collapsed(graph: Graph) -> Graph:
    """The same graph with each subpackage as one node (``checkin.http`` -> ``checkin``)."""
    depth = graph.package.count(".") + 2
    out = Graph(graph.package)
    for module, targets in graph.edges.items():
        node = ".".join(module.split(".")[:depth])
        found = out.edges.setdefault(node, set())
        found |= {".".join(t.split(".")[:depth]) for t in targets} - {node}
    return out


def main(argv: list[str]) -> int:
    """``[--packages] [package]``: print the graph (subpackages as one node with --packages)."""
    packages = "--packages" in argv
    names = [a for a in argv if a != "--packages"]
    graph = build(names[0] if names else "server.web")
    shown = collapsed(graph) if packages else graph
    print(shown.render())
    for group in shown.cycles():
        print("CYCLE:", " <-> ".join(group))
    for late in graph.late:
        print("IMPORT IN A FUNCTION:", late)
    return 1 if shown.cycles() or graph.late else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
