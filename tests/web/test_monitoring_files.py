"""deploy/prometheus/alerts.yml and deploy/grafana/classroom-dashboard.json: promtool accepts the
rules, and every metric they query is one a real server exports on /metrics (a renamed metric
would otherwise leave an alert that never fires and an empty panel)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ClientFactory

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus/alerts.yml"
DASHBOARD = DEPLOY / "grafana/classroom-dashboard.json"
# scraped by Prometheus itself, not exported by the server
PROMETHEUS_OWN = {"up"}


def _queried(expr: str) -> set[str]:
    words = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?=\s*[{\[)]|\s*[><=]|\s*$)", expr))
    names = {w for w in words if w.startswith(("classroom_", "process_", "python_")) or w == "up"}
    return names


def _exported(text: str) -> set[str]:
    """Series names the families declare (a labelled family with no sample yet still counts)."""
    suffixes = {"histogram": ("_bucket", "_sum", "_count")}  # counters are named ..._total
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.update(name + s for s in suffixes.get(kind, ("",)))
    return names


def test_promtool_accepts_the_alert_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: run deploy/test-services.sh (Debian package prometheus)")
    done = subprocess.run(
        [promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 11 rules found" in done.stdout


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail."""
    promtool = shutil.which("promtool")
    assert promtool is not None
    broken = tmp_path / "broken.yml"
    broken.write_text(ALERTS.read_text().replace("> 0.3", "> > 0.3", 1))
    done = subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True)
    assert done.returncode != 0


async def test_alerts_and_dashboard_query_only_metrics_the_server_exports(
    client_as: ClientFactory,
) -> None:
    client = await client_as("operator")
    await client.get("/api/v1/sites")  # one request, so the per-route series exist
    exported = _exported(await (await client.get("/metrics")).text())
    rules = yaml.safe_load(ALERTS.read_text())["groups"][0]["rules"]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [rule["expr"] for rule in rules]
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    queried = set().union(*(_queried(e) for e in exprs))
    assert {"classroom_sites", "classroom_checkins_total", "classroom_bus_lag_seconds"} <= queried
    assert queried - PROMETHEUS_OWN - exported == set()
    assert len(dashboard["panels"]) >= 10
    assert all(rule["annotations"]["summary"] for rule in rules)
