"""The interaction log export's words for who acted and what happened (no JSON, no ids)."""

from __future__ import annotations

from server.core.interaction_log_text import Names, actor_text, content_text

NAMES = Names(trainees={7: "张三"}, users={2: "王老师"}, sites={3: "海曙区分课堂"})


def test_actors_by_name_and_the_anonymous_asker_stays_anonymous() -> None:
    assert actor_text("trainee:7", NAMES) == "张三"
    assert actor_text("user:2:operator", NAMES) == "王老师"
    assert actor_text("user:9:op2", NAMES) == "op2"  # no display name: the login name
    assert actor_text("site:3", NAMES) == "海曙区分课堂"
    assert actor_text("trainee:8", NAMES) == "学员 #8"
    assert actor_text("anonymous", NAMES) == "匿名学员"


def test_contents_in_words() -> None:
    assert (
        content_text(
            "question_submitted",
            {"text": "问", "site_id": 3, "flags": ["敏感"], "state": "submitted"},
            NAMES,
        )
        == "“问”；课堂：海曙区分课堂；状态：待审核；敏感词：敏感"
    )
    moved = {"action": "merge", "before": "approved", "after": "archived", "into": 5}
    assert content_text("question_merge", moved, NAMES) == "已通过 → 已归档；并入问题 #5"
    edited = {"before": "旧", "after": "新", "flags": []}
    assert content_text("question_edited", edited, NAMES) == "原文“旧”，改为“新”"
    nested = {"text": "怎样避免“层层加码”？"}  # quotes in a quote turn single, as in print
    assert content_text("question_submitted", nested, NAMES) == "“怎样避免‘层层加码’？”"
    assert content_text("poll_opened", {"prompt": '"A" or B'}, NAMES) == "题目“'A' or B”"
    granted = {"site_id": 3, "at": "x", "deadline": "y", "seconds": 60.0}
    assert content_text("floor_granted", granted, NAMES) == "课堂：海曙区分课堂；限时 60 秒"
    returned = {"site_id": 4, "at": "x", "reason": "expired"}
    assert content_text("floor_returned", returned, NAMES) == "课堂：#4；原因：时间到"
    answered = {"poll_id": 1, "choices": [0, 2], "site_id": 3}
    assert (
        content_text("poll_answered", answered, NAMES) == "课堂：海曙区分课堂；投票 #1；选择：0、2"
    )
    settings = {"session_id": 1, "auto_approve": False, "sensitive_words": []}
    assert content_text("qa_settings", settings, NAMES) == "自动通过：否；敏感词：无"
