"""A node is killed and its browsers all reconnect at once (issue 18 item 2), with the same
code as ``bench/reconnect_storm.py`` (which runs it with 10,000 browsers: docs/benchmarks.md),
smaller here: two nodes on PostgreSQL and Redis, 600 pages reconnecting with live.js's back-off
and jitter, events published throughout. Every page of the killed node is back on the other
node within 10 s, and every page holds the topic's last event (none lost over the outage)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.bench.helpers import ROOT, run_bench

sys.path.insert(0, str(ROOT / "bench"))

from page_clients import backoff, page_constants

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

BROWSERS = 600


def test_the_pages_back_off_as_live_js_does() -> None:
    """The bench's pages take their constants from live.js and its formula."""
    constants = page_constants()
    assert constants["MIN_DELAY"] > 0 and constants["MAX_DELAY"] > constants["MIN_DELAY"]
    low, high = constants["MIN_DELAY"], constants["MAX_DELAY"]
    assert backoff(0, low, high, 0.0) == low / 2
    assert backoff(0, low, high, 0.999) < low
    assert backoff(3, low, high, 0.5) == pytest.approx(0.75 * low * 8)
    assert backoff(30, low, high, 0.999) <= high
    source = (ROOT / "web_client" / "shared" / "live.js").read_text()
    # the formula the bench mirrors is still the page's
    assert "const cap = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);" in source
    assert "Math.max(MIN_DELAY / 2, cap / 2 + Math.random() * (cap / 2))" in source


def test_every_page_of_a_killed_node_is_back_and_resynced_within_10_s(tmp_path: Path) -> None:
    result, _ = run_bench(
        "reconnect_storm.py",
        "--browsers",
        str(BROWSERS),
        "--workers",
        "2",
        "--wait",
        "20",
        out_dir=tmp_path,
        timeout=240,
    )
    assert result["live_before"] == BROWSERS, result
    assert result["lost"] == BROWSERS // 2, result  # the killed node's half
    assert result["not_back"] == 0 and result["back"] == result["lost"], result
    assert result["back_within_10s"] == result["lost"], result
    assert result["on_survivor"] == BROWSERS, result
    assert result["events_published"] > 5, result  # events flowed through the outage
    assert result["at_last_event"] == BROWSERS, result
    assert result["skipped_events"] == 0, result
