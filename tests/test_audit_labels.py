"""Every action (and object) the server writes to the audit log has a Chinese and an English
label in the audit reader (web_client/operator/audit.js), so a person never reads
``broadcast_start`` or ``roll_calls``.

The actions are found in the server's source: the action argument of every ``audit(...)``
(server/web/resources.py), ``_audit(...)`` (the operations CLI) and ``AuditEntry(action=...)``.
A computed action must be one this test knows how to enumerate, or the test fails and says so."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from server.core.leave import LeaveAction, LeaveState
from server.core.sessions import SessionAction, SessionStatus
from server.store.attendance_models import PlanStatus, RecordKind
from server.store.models import Role, SiteKind
from server.web.routes import RESOURCES

ROOT = Path(__file__).resolve().parents[1]
READER = ROOT / "web_client" / "operator" / "audit.js"

COMPUTED = {
    # session start / end (routes.py), a leave request approved / refused (leave/http.py)
    "action.value": {a.value for a in SessionAction} | {a.value for a in LeaveAction},
    "how": {"move", "swap"},  # batch plan changes (batches.service.change_plan)
    "action": set(),  # audit() and the CLI's _audit() forward their own arguments to
    "entity": set(),  # AuditEntry(...): their callers are scanned
    "res.name": {r.name for r in RESOURCES},  # the generic REST resources
}


def _values(node: ast.AST, constants: dict[str, str], where: str) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _values(node.body, constants, where) | _values(node.orelse, constants, where)
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    source = ast.unparse(node)
    assert source in COMPUTED, f"{where}: cannot enumerate the audit value {source!r}"
    return COMPUTED[source]


def _keys(node: ast.AST) -> set[str]:
    """The literal keys of a dict written as an entry's before / after."""
    if not isinstance(node, ast.Dict):
        return set()
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _written() -> tuple[set[str], set[str]]:
    actions, entities, _ = _scan()
    return actions, entities


def _scan() -> tuple[set[str], set[str], set[str]]:
    """The actions, entities and literal before / after field names the server writes."""
    actions: set[str] = set()
    entities: set[str] = set()
    fields: set[str] = set()
    for path in sorted((ROOT / "server").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            t.id: n.value.value
            for n in tree.body
            if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else ""
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name == "audit" and len(node.args) >= 4:
                actions |= _values(node.args[2], constants, where)
                entities |= _values(node.args[3], constants, where)
                for side in node.args[5:7]:
                    fields |= _keys(side)
            elif name == "_audit" and len(node.args) >= 3:
                actions |= _values(node.args[1], constants, where)
                entities |= _values(node.args[2], constants, where)
                for side in node.args[3:5]:
                    fields |= _keys(side)
            elif name == "AuditEntry":
                kw = {k.arg: k.value for k in node.keywords}
                if "action" in kw:
                    actions |= _values(kw["action"], constants, where)
                    entities |= _values(kw["entity"], constants, where)
                    fields |= _keys(kw.get("before", ast.Constant(None)))
                    fields |= _keys(kw.get("after", ast.Constant(None)))
    return actions, entities, fields


# Fields of before / after built away from the audit call (batch plan rules, a view's extras).
COMPUTED_FIELDS = {"on_duty_share", "org_unit_ids", "use_site_capacity", "has_secret", "user_ids"}
NEVER_AUDITED = {"password"}  # sent to set it; the audited view holds no password


def _fields() -> set[str]:
    _, _, fields = _scan()
    for res in RESOURCES:
        columns = {c.key for c in res.model.__table__.columns}  # type: ignore[attr-defined]
        fields |= (columns - res.hidden) | (set(res.fields.fields) - NEVER_AUDITED)
    return fields | COMPUTED_FIELDS


VALUES = {
    *(v.value for v in (*Role, *SiteKind, *LeaveState, *SessionStatus, *PlanStatus, *RecordKind))
}


def _labels(prefix: str) -> tuple[set[str], set[str]]:
    text = READER.read_text(encoding="utf-8")
    zh, en = text.split("\n  en: {", 1)
    key = re.compile(rf'"{re.escape(prefix)}\.([a-z0-9_-]+)": "[^"]+"')
    return set(key.findall(zh)), set(key.findall(en))


def test_the_scan_finds_the_actions_the_server_writes() -> None:
    actions, entities = _written()
    # a sample of each way an action is written: a literal, a computed one, the CLI, the codes
    assert {"broadcast_start", "broadcast_stop", "start", "end", "move", "swap"} <= actions
    assert {"create_admin", "reset_password", "prune", "issue_join_codes", "correct"} <= actions
    assert {"roll_calls", "sessions", "session_result", "recordings", "users"} <= entities


def test_every_audit_action_has_a_chinese_and_an_english_label() -> None:
    actions, _ = _written()
    zh, en = _labels("audit.act")
    assert not actions - zh, f"no Chinese label for {sorted(actions - zh)}"
    assert not actions - en, f"no English label for {sorted(actions - en)}"


def test_every_audited_object_has_a_chinese_and_an_english_label() -> None:
    _, entities = _written()
    zh, en = _labels("audit.ent")
    assert not entities - zh, f"no Chinese label for {sorted(entities - zh)}"
    assert not entities - en, f"no English label for {sorted(entities - en)}"


def test_common_fields_and_values_have_both_labels() -> None:
    zh_fields, en_fields = _labels("audit.field")
    zh_values, en_values = _labels("audit.val")
    assert zh_fields == en_fields and zh_values == en_values
    assert {"status", "title", "name", "reason", "starts_at"} <= zh_fields
    assert {"scheduled", "live", "ended", "draft", "published", "true", "false"} <= zh_values


def test_every_field_the_server_writes_has_both_labels() -> None:
    fields = _fields()
    assert {"capacity", "is_leader", "display_name", "created", "renamed", "file"} <= fields
    zh, en = _labels("audit.field")
    assert not fields - zh, f"no Chinese label for the fields {sorted(fields - zh)}"
    assert not fields - en, f"no English label for the fields {sorted(fields - en)}"


def test_every_stored_state_role_and_kind_has_both_labels() -> None:
    zh, en = _labels("audit.val")
    assert not VALUES - zh, f"no Chinese label for the values {sorted(VALUES - zh)}"
    assert not VALUES - en, f"no English label for the values {sorted(VALUES - en)}"
