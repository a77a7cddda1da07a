"""Who sees what of a question (server.core.qa_views), over questions of a real board."""

from __future__ import annotations

from server.core.qa import QuestionBoard
from server.core.qa_views import ViewerRole, is_visible, public_view
from server.core.text import SensitiveWords
from tests.core.test_qa import MOD, approved, board, submitted

# --- who sees what ----------------------------------------------------------------------------


def anonymous_question() -> QuestionBoard:
    b = board()
    b.submit("q1", site_id="a", text="匿名问题", now=0.0, asker="t1", anonymous=True)
    b.approve("q1", by=MOD, now=0.0)
    b.upvote("q1", "t2", now=1.0)
    return b


def test_an_anonymous_asker_is_hidden_from_other_trainees_and_screens() -> None:
    q = anonymous_question().get("q1")
    other = public_view(q, ViewerRole.TRAINEE, True, viewer_id="t2")
    assert other.asker is None and not other.is_mine and other.voted_by_me
    assert public_view(q, ViewerRole.SCREEN, True).asker is None


def test_the_asker_always_sees_their_own_question() -> None:
    q = anonymous_question().get("q1")
    mine = public_view(q, ViewerRole.TRAINEE, False, viewer_id="t1")
    assert mine.asker == "t1" and mine.is_mine and not mine.voted_by_me


def test_moderators_see_an_anonymous_asker_only_when_the_session_allows() -> None:
    q = anonymous_question().get("q1")
    assert public_view(q, ViewerRole.MODERATOR, True, viewer_id=MOD).asker == "t1"
    assert public_view(q, ViewerRole.MODERATOR, False, viewer_id=MOD).asker is None


def test_a_named_question_shows_its_asker_to_everyone() -> None:
    b = board()
    approved(b, "q1", asker="t1")
    q = b.get("q1")
    for role in ViewerRole:
        assert public_view(q, role, False, viewer_id="x").asker == "t1"


def test_original_text_and_flags_are_for_moderators_only() -> None:
    b = board(sensitive_words=SensitiveWords(["违规"]))
    b.submit("q1", site_id="a", text="违规", now=0.0, asker="t1")
    b.edit("q1", "已修改", by=MOD, now=1.0)
    q = b.get("q1")
    mod = public_view(q, ViewerRole.MODERATOR, True)
    assert (mod.original_text, mod.edited, mod.text) == ("违规", True, "已修改")
    trainee = public_view(q, ViewerRole.TRAINEE, True, viewer_id="t1")
    assert trainee.original_text is None and trainee.flags == () and trainee.edited


def test_askers_of_a_merged_duplicate_see_it_as_theirs_without_the_anonymous_asker() -> None:
    b = anonymous_question()
    submitted(b, "dup", asker="t3")
    b.merge("dup", "q1", by=MOD, now=2.0)
    view = public_view(b.get("q1"), ViewerRole.TRAINEE, True, viewer_id="t3")
    assert view.is_mine and view.asker is None and view.also_asked_count == 1


def test_trainees_see_screened_questions_and_their_own_only() -> None:
    b = board()
    submitted(b, "q1", asker="t1")
    q = b.get("q1")
    assert is_visible(q, ViewerRole.MODERATOR)
    assert is_visible(q, ViewerRole.TRAINEE, "t1")
    assert not is_visible(q, ViewerRole.TRAINEE, "t2")
    assert not is_visible(q, ViewerRole.SCREEN)
    b.approve("q1", by=MOD, now=1.0)
    assert is_visible(q, ViewerRole.TRAINEE, "t2") and is_visible(q, ViewerRole.SCREEN)
