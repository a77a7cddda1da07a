"""The interaction log as the training office reads it in a CSV/XLSX export (in Chinese, like
the other exports): who acted, by name, and what happened, in words instead of JSON.

Pure: the caller looks up the names (``Names``). The asker of an anonymous question reaches
here already as ``anonymous`` (``server.core.qa_views.log_actor``) and is printed as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.core.qa_views import ANONYMOUS_ACTOR

ANONYMOUS_ZH = "匿名学员"
STATE_ZH = {
    "submitted": "待审核",
    "approved": "已通过",
    "rejected": "已驳回",
    "on_air": "上屏中",
    "answered": "已回答",
    "archived": "已归档",
}
RETURN_REASON_ZH = {"revoked": "主持人收回", "expired": "时间到", "withdrawn": "主动交回"}
SETTING_ZH = {
    "moderators_see_identity": "审核员可见匿名提问者",
    "auto_approve": "自动通过",
    "rate_limit": "限频条数",
    "rate_window": "限频时段（秒）",
    "sensitive_words": "敏感词",
}


@dataclass(frozen=True, slots=True)
class Names:
    """Display names by id, as the export found them."""

    trainees: Mapping[int, str] = field(default_factory=dict)
    users: Mapping[int, str] = field(default_factory=dict)
    sites: Mapping[int, str] = field(default_factory=dict)


def actor_ids(actor: str) -> tuple[str, int] | None:
    """``("trainee", 7)`` for ``trainee:7``, ``("user", 2)`` for ``user:2:name``; else None."""
    kind, _, rest = actor.partition(":")
    number = rest.partition(":")[0]
    if kind in {"trainee", "user", "site"} and number.isdigit():
        return kind, int(number)
    return None


def actor_text(actor: str, names: Names) -> str:
    """Who acted, by name: a trainee, a staff user, a site; the anonymous asker stays anonymous."""
    if actor == ANONYMOUS_ACTOR:
        return ANONYMOUS_ZH
    ids = actor_ids(actor)
    if ids is None:
        return actor
    kind, number = ids
    if kind == "trainee":
        return names.trainees.get(number) or f"学员 #{number}"
    if kind == "site":
        return names.sites.get(number) or f"课堂 #{number}"
    fallback = actor.split(":", 2)[2] if actor.count(":") >= 2 else f"用户 #{number}"
    return names.users.get(number) or fallback


def site_ids(data: Mapping[str, Any]) -> list[int]:
    site = data.get("site_id")
    return [site] if isinstance(site, int) else []


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | tuple):
        return "、".join(_value(v) for v in value) or "无"
    if value is None:
        return "无"
    return str(value)


def quoted(text: object) -> str:
    """``text`` in double quotes, its own double quotes made single (“避免‘层层加码’”), as
    Chinese nests quotation marks."""
    inner = str(text).translate(_INNER_QUOTES)
    return f"“{inner}”"


_INNER_QUOTES = str.maketrans({"“": "‘", "”": "’", '"': "'"})


_PLAIN = (  # a field written as it is, in its words
    ("into", "并入问题 #{}"),
    ("votes", "转入点赞 {}"),
    ("vote_count", "点赞数 {}"),
    ("poll_id", "投票 #{}"),
    ("prompt", "题目{}"),
    ("course_rating", "课程评分 {}"),
)


def content_text(kind: str, data: Mapping[str, Any], names: Names) -> str:
    """What an entry says, in Chinese: the question's text, the site, the state change..."""
    parts: list[str] = []
    rest = dict(data)
    if kind == "qa_settings":
        rest.pop("session_id", None)
        return "；".join(f"{SETTING_ZH.get(k, k)}：{_value(v)}" for k, v in rest.items())
    if "text" in rest:
        parts.append(quoted(rest.pop("text")))
    if kind == "question_edited":
        parts.append(f"原文{quoted(rest.pop('before', ''))}，改为{quoted(rest.pop('after', ''))}")
    elif "before" in rest and "after" in rest:
        before, after = str(rest.pop("before")), str(rest.pop("after"))
        parts.append(f"{STATE_ZH.get(before, before)} → {STATE_ZH.get(after, after)}")
    rest.pop("action", None)
    if "site_id" in rest:
        site = rest.pop("site_id")
        if site is not None:
            parts.append(f"课堂：{names.sites.get(site) or f'#{site}'}")
    if "state" in rest:
        state = str(rest.pop("state"))
        parts.append(f"状态：{STATE_ZH.get(state, state)}")
    flags = rest.pop("flags", None)
    if flags:
        parts.append(f"敏感词：{_value(flags)}")
    for key, text in _PLAIN:
        if key in rest:
            value = rest.pop(key)
            parts.append(text.format(quoted(value) if key == "prompt" else value))
    if "choices" in rest:
        parts.append(f"选择：{_value(rest.pop('choices'))}")
    if "seconds" in rest:
        seconds = rest.pop("seconds")
        parts.append("不限时" if seconds is None else f"限时 {seconds:g} 秒")
    if "reason" in rest:
        reason = str(rest.pop("reason"))
        parts.append(f"原因：{RETURN_REASON_ZH.get(reason, reason)}")
    rest.pop("at", None)  # the row's own time column says when
    rest.pop("deadline", None)
    parts.extend(f"{k}：{_value(v)}" for k, v in rest.items())
    return "；".join(parts)
