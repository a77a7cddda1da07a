"""What the agent knows of its site, and where it stands in the command stream.

:class:`SiteState` is pure: it folds command-stream events (and local check-ins) into the
current picture, or is replaced wholesale by a ``resync`` snapshot. :class:`CursorStore`
persists the last handled ``(epoch, seq)`` so a restarted agent resumes where it stopped.

Event kinds and the ``data`` fields read (others are kept out of the state but still reach
the handlers registered with :meth:`classroom_agent.agent.Agent.on`):

- ``session_started`` ``{session_id, ...}``: a live session at this site (the map is kept);
- ``session_ended`` ``{session_id}``: no longer live; its check-ins are forgotten;
- ``question_on_air`` ``{question_id, text, ...}`` (or ``{question: {...}}``); a null
  question or ``question_off_air`` clears it;
- ``roll_call`` ``{roll_call_id, session_id, ...}``; ``roll_call_ended`` clears it;
- ``floor_granted`` / ``floor_released``: which site has the floor;
- ``checkin`` / ``checked_in`` ``{session_id, trainee_id}`` and ``checkout`` /
  ``checked_out``: trainees in the room (for the heartbeat's ``checked_in``).

A ``resync`` snapshot: ``{site: {...}, sessions: [{id or session_id, ...}],
question_on_air: {...} | null, roll_call: {...} | null, floor: {...} | null,
checked_in: {session_id: [trainee_id, ...]}}``; missing keys mean "none".
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classroom_agent.protocol import Cursor, is_valid_epoch, is_valid_seq


def _int_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _session_id(data: Mapping[str, Any]) -> int | None:
    for key in ("session_id", "id"):
        found = _int_id(data.get(key))
        if found is not None:
            return found
    return None


def _optional_map(value: object) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None


@dataclass(slots=True)
class SiteState:
    """The site as the agent knows it."""

    site: dict[str, Any] = field(default_factory=dict)
    live_sessions: dict[int, dict[str, Any]] = field(default_factory=dict)
    question_on_air: dict[str, Any] | None = None
    roll_call: dict[str, Any] | None = None
    floor: dict[str, Any] | None = None
    checked_in: dict[int, set[int]] = field(default_factory=dict)
    """Trainee ids checked in at this site, by session id."""

    def checked_in_count(self) -> int:
        """Distinct trainees checked in at this site across the sessions it knows."""
        trainees: set[int] = set()
        for ids in self.checked_in.values():
            trainees |= ids
        return len(trainees)

    def note_checkin(self, session_id: int, trainee_id: int) -> None:
        self.checked_in.setdefault(session_id, set()).add(trainee_id)

    def note_checkout(self, session_id: int, trainee_id: int) -> None:
        ids = self.checked_in.get(session_id)
        if ids is not None:
            ids.discard(trainee_id)

    def apply(self, kind: str, data: Mapping[str, Any]) -> bool:
        """Fold one event into the state; ``False`` when the kind does not change the state."""
        if kind == "session_started":
            sid = _session_id(data)
            if sid is None:
                return False
            self.live_sessions[sid] = dict(data)
            return True
        if kind == "session_ended":
            sid = _session_id(data)
            if sid is None:
                return False
            self.live_sessions.pop(sid, None)
            self.checked_in.pop(sid, None)
            if self.roll_call is not None and _session_id(self.roll_call) == sid:
                self.roll_call = None
            return True
        if kind == "question_on_air":
            question = data.get("question", data)
            self.question_on_air = _optional_map(question) or None
            return True
        if kind == "question_off_air":
            self.question_on_air = None
            return True
        if kind == "roll_call":
            self.roll_call = dict(data)
            return True
        if kind == "roll_call_ended":
            self.roll_call = None
            return True
        if kind == "floor_granted":
            self.floor = dict(data)
            return True
        if kind == "floor_released":
            self.floor = None
            return True
        if kind in ("checkin", "checked_in", "checkout", "checked_out"):
            sid, tid = _session_id(data), _int_id(data.get("trainee_id"))
            if sid is None or tid is None:
                return False
            if kind in ("checkin", "checked_in"):
                self.note_checkin(sid, tid)
            else:
                self.note_checkout(sid, tid)
            return True
        return False

    def replace_with(self, snapshot: Mapping[str, Any]) -> None:
        """Forget everything and take the server's snapshot (a ``resync``)."""
        self.site = _optional_map(snapshot.get("site")) or {}
        self.live_sessions = {}
        sessions = snapshot.get("sessions", snapshot.get("live_sessions", []))
        if isinstance(sessions, list):
            for entry in sessions:
                if isinstance(entry, Mapping):
                    sid = _session_id(entry)
                    if sid is not None:
                        self.live_sessions[sid] = dict(entry)
        self.question_on_air = _optional_map(snapshot.get("question_on_air"))
        self.roll_call = _optional_map(snapshot.get("roll_call"))
        self.floor = _optional_map(snapshot.get("floor"))
        self.checked_in = {}
        checked = snapshot.get("checked_in")
        if isinstance(checked, Mapping):
            for key, ids in checked.items():
                sid = _int_id(key)
                if sid is None or not isinstance(ids, list):
                    continue
                self.checked_in[sid] = {t for t in map(_int_id, ids) if t is not None}

    def merge_local_checkins(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Add ``(session_id, trainee_id)`` check-ins the server has not acked yet."""
        for session_id, trainee_id in pairs:
            self.note_checkin(session_id, trainee_id)


class CursorStore:
    """The last handled ``(epoch, seq)``, in ``<state_dir>/cursor.json``.

    Written atomically (temporary file, fsync, rename, fsync of the directory): after a
    crash the file holds either the old or the new cursor, never half of one.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> Cursor | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        epoch, seq = data.get("epoch"), data.get("seq")
        if not is_valid_epoch(epoch) or not is_valid_seq(seq):
            return None
        assert isinstance(epoch, str) and isinstance(seq, int)
        return Cursor(epoch, seq)

    def save(self, cursor: Cursor) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        payload = json.dumps({"epoch": cursor.epoch, "seq": cursor.seq})
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
