"""Every error code the server can answer has a Chinese and an English message in the pages
(web_client/shared/errors.js), so a person never reads the server's raw English.

The codes are found in the server's source: the first argument of every DomainError (and
subclass) raised, error_response() codes, module constants named like codes, refusal tables,
``"code": ...`` literals (warnings), the text-cleaning prefixes, the resources' ``not_found`` and
``unknown_<ref>`` codes and the session transitions' ``cannot_<action>`` codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "web_client" / "shared" / "errors.js"
CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
ENTRY = re.compile(r'^\s*"([a-z0-9_.-]+)": \["([^"]+)", "([^"]+)"\],$')
CJK = re.compile(r"[\u4e00-\u9fff]")
TEXT_SUFFIXES = ("bad_characters", "empty", "too_long")


def _const(node: ast.AST | None) -> str | None:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and CODE.fullmatch(node.value)
    ):
        return node.value
    return None


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    names = {"DomainError"}
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {
                        b.id if isinstance(b, ast.Name) else getattr(b, "attr", "")
                        for b in node.bases
                    }
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def server_codes() -> set[str]:
    trees = {p: ast.parse(p.read_text()) for p in (ROOT / "server").rglob("*.py")}
    errors = _error_classes(trees)
    constants: dict[str, str] = {}
    codes: set[str] = set()
    for tree in trees.values():
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                value = _const(node.value)
                if isinstance(target, ast.Name) and target.id.isupper() and value:
                    constants[target.id] = value
                    codes.add(value)
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                args = node.args
                if name in errors and args:
                    first = args[0]
                    found = _const(first) or (
                        constants.get(first.id) if isinstance(first, ast.Name) else None
                    )
                    if found:
                        codes.add(found)
                if name == "error_response" and len(args) > 1 and _const(args[1]):
                    codes.add(str(_const(args[1])))
                if name == "load" and len(args) > 3 and isinstance(args[3], ast.Constant):
                    codes.add(f"{str(args[3].value).replace(' ', '_')}.not_found")
                if name == "path_id" and len(args) > 1 and isinstance(args[1], ast.Constant):
                    codes.add(f"{str(args[1].value).replace(' ', '_')}.not_found")
                for kw in node.keywords:
                    if kw.arg == "code_prefix" and isinstance(kw.value, ast.Constant):
                        codes.update(f"{kw.value.value}.{s}" for s in TEXT_SUFFIXES)
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "code" and _const(value):
                        codes.add(str(_const(value)))
                    if isinstance(value, ast.Tuple) and value.elts and _const(value.elts[0]):
                        codes.add(str(_const(value.elts[0])))  # refusal tables
                    if (
                        isinstance(key, ast.Constant)
                        and isinstance(key.value, int)
                        and _const(value)
                    ):
                        codes.add(str(_const(value)))  # status -> code tables
    from server.core.sessions import SessionAction
    from server.web.routes import RESOURCES

    codes.update(f"session.cannot_{a.value}" for a in SessionAction)
    for res in RESOURCES:
        codes.update(f"{res.name}.unknown_{ref.removesuffix('_id')}" for ref in res.refs)
        codes.add(f"{res.name.rstrip('s').replace('-', '_')}.not_found")
    return codes


def page_table() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for line in TABLE.read_text().splitlines():
        m = ENTRY.match(line)
        if m:
            assert m.group(1) not in table, f"{m.group(1)} twice in errors.js"
            table[m.group(1)] = (m.group(2), m.group(3))
    return table


def test_the_scan_finds_the_codes_it_should() -> None:
    codes = server_codes()
    for known in (
        "auth.required",  # raised with a constant
        "checkin.record_closed",  # a refusal table
        "message.invalid",  # a module constant (validation)
        "question.too_long",  # a text-cleaning prefix
        "sessions.unknown_course",  # a resource reference
        "session.cannot_start",  # a session transition
        "http.not_found",  # the status table of the middleware
        "trainee.not_found",  # load(..., "trainee")
    ):
        assert known in codes, known
    assert len(codes) > 150


def test_every_server_error_code_has_zh_and_en_in_the_pages() -> None:
    table = page_table()
    missing = sorted(server_codes() - set(table))
    assert not missing, f"add these codes to web_client/shared/errors.js: {missing}"
    for code, (zh, en) in table.items():
        assert CJK.search(zh), f"{code}: the zh message has no Chinese: {zh}"
        assert not CJK.search(en), f"{code}: the en message has Chinese: {en}"
