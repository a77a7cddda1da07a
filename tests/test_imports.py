"""server.web has no import cycle, between its modules or between its feature packages (each
subpackage taken as one node), and imports nothing inside a function; keys.py stands alone."""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import build, collapsed


def test_server_web_has_no_import_cycle() -> None:
    assert build("server.web").cycles() == []


def test_server_web_feature_packages_have_no_import_cycle() -> None:
    """A feature package (``checkin``, ``batches``, ...) may use another's service, but two
    packages never lean on each other: what both need has one home they both import."""
    assert collapsed(build("server.web")).cycles() == []


def test_server_web_imports_nothing_inside_a_function() -> None:
    assert build("server.web").late == []


def test_keys_import_nothing_from_server_web() -> None:
    assert build("server.web").edges["server.web.keys"] == set()


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_graph_sees_a_cycle_held_open_by_a_late_import(tmp_path: Path) -> None:
    _package(
        tmp_path,
        {
            "__init__.py": "",
            "app.py": "KEY = 1\ndef make():\n    from pkg import routes\n",
            "routes.py": "from pkg.handlers import handle\n",
            "handlers.py": "from pkg.app import KEY\nfrom . import keys\n",
            "keys.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from pkg.app import KEY\n",
            "sub/__init__.py": "",
            "sub/http.py": "from ..keys import *\nimport pkg.sub.service\n",
            "sub/service.py": "",
        },
    )
    graph = build("pkg", tmp_path)
    assert graph.cycles() == [["pkg.app", "pkg.handlers", "pkg.routes"]]
    assert graph.late == ["pkg.app:3 imports pkg.routes"]
    assert graph.edges["pkg.keys"] == set()  # imports for the type checker do not count
    assert graph.edges["pkg.handlers"] == {"pkg.app", "pkg.keys"}
    assert graph.edges["pkg.sub.http"] == {"pkg.keys", "pkg.sub.service"}


def test_the_package_graph_sees_a_cycle_between_packages_that_modules_do_not_have(
    tmp_path: Path,
) -> None:
    _package(
        tmp_path,
        {
            "__init__.py": "",
            "a/__init__.py": "",
            "a/service.py": "from pkg.b.records import iso\n",
            "a/roster.py": "",
            "b/__init__.py": "",
            "b/records.py": "",
            "b/service.py": "from pkg.a.roster import position\n",
            "c/__init__.py": "",
            "c/service.py": "from pkg.a import service\n",
        },
    )
    graph = build("pkg", tmp_path)
    assert graph.cycles() == []
    assert collapsed(graph).cycles() == [["pkg.a", "pkg.b"]]
