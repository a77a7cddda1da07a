"""The pages' JavaScript (web_client/) is linted and type-checked: ESLint (eslint.config.mjs:
the recommended rules, unused names and undefined globals as errors) and TypeScript's
`tsc --checkJs --noEmit` over the JSDoc types (tsconfig.json), both at the exact versions of
package-lock.json. Any finding fails the suite, so `make test` (and CI) enforces them.

`make test` installs the tools (`npm ci`) when package.json or the lock file changed; run
directly, this module does the same. Node.js and npm come from deploy/test-services.sh.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web_client"
BIN = ROOT / "node_modules" / ".bin"
STAMP = ROOT / "node_modules" / ".package-lock.json"
SILENCERS = ("@ts-ignore", "@ts-nocheck", "@ts-expect-error", "eslint-disable")


def page_scripts() -> list[Path]:
    """Every JavaScript file of the pages except the vendored libraries."""
    return sorted(p for p in WEB.rglob("*.js") if "vendor" not in p.relative_to(WEB).parts)


@pytest.fixture(scope="module")
def tools() -> Path:
    npm = shutil.which("npm")
    assert shutil.which("node") and npm, "Node.js and npm are missing: run deploy/test-services.sh"
    newest = max((ROOT / name).stat().st_mtime for name in ("package.json", "package-lock.json"))
    if not STAMP.exists() or STAMP.stat().st_mtime < newest:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, timeout=600)
    return BIN


def run(tool: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def eslint_findings(tools: Path, *paths: str) -> list[str]:
    done = run(tools / "eslint", "--max-warnings", "0", "--format", "json", *paths)
    assert done.returncode in (0, 1), done.stderr
    return [
        f"{Path(f['filePath']).relative_to(ROOT)}:{m.get('line')} {m.get('ruleId')}: {m['message']}"
        for f in json.loads(done.stdout)
        for m in f["messages"]
    ]


def test_eslint_finds_nothing(tools: Path) -> None:
    findings = eslint_findings(tools, "web_client", "tests/media/browser")
    assert not findings, "ESLint:\n" + "\n".join(findings)


def test_tsc_check_js_finds_nothing(tools: Path) -> None:
    done = run(tools / "tsc", "-p", "tsconfig.json", "--pretty", "false")
    findings = done.stdout + done.stderr
    assert done.returncode == 0 and not findings.strip(), "tsc --checkJs:\n" + findings


def test_every_page_script_is_type_checked_and_nothing_is_silenced(tools: Path) -> None:
    done = run(tools / "tsc", "-p", "tsconfig.json", "--listFilesOnly")
    assert done.returncode == 0, done.stdout + done.stderr
    checked = {Path(line).resolve() for line in done.stdout.split()}
    scripts = page_scripts()
    assert len(scripts) > 40
    assert not [p for p in scripts if p.resolve() not in checked], "not in tsconfig.json's program"
    texts = {p.relative_to(ROOT): p.read_text() for p in scripts}
    unmarked = [str(p) for p, text in texts.items() if not text.startswith("// @ts-check\n")]
    assert not unmarked, f"first line must be // @ts-check: {unmarked}"
    silenced = [f"{p}: {s}" for p, text in texts.items() for s in SILENCERS if s in text]
    assert not silenced, silenced


def test_the_checks_do_catch_mistakes(tools: Path, tmp_path: Path) -> None:
    """The configurations are live: an undefined name, an unused one and a wrong type are found."""
    probe = "// @ts-check\nconst unused = 1;\nundefinedThing();\n"
    done = subprocess.run(
        [
            str(tools / "eslint"),
            "--format",
            "json",
            "--stdin",
            "--stdin-filename",
            "web_client/shared/probe.js",
        ],
        cwd=ROOT,
        input=probe,
        capture_output=True,
        text=True,
        timeout=300,
    )
    rules = {m["ruleId"] for f in json.loads(done.stdout) for m in f["messages"]}
    assert rules == {"no-unused-vars", "no-undef"}, rules
    (tmp_path / "probe.js").write_text(
        '// @ts-check\nimport { h } from "/static/shared/dom.js";\n'
        '/** @type {number} */\nexport const n = "three";\nh(1);\n'
    )
    (tmp_path / "tsconfig.json").write_text(
        json.dumps({"extends": str(ROOT / "tsconfig.json"), "include": ["probe.js"]})
    )
    done = run(tools / "tsc", "-p", "tsconfig.json", "--pretty", "false", cwd=tmp_path)
    assert done.returncode != 0
    assert "probe.js(4," in done.stdout and "TS2322" in done.stdout, done.stdout
    assert "probe.js(5," in done.stdout, done.stdout  # h(tag: string, …) given a number


def test_the_pages_ask_in_themselves_never_in_a_browser_dialog() -> None:
    """confirm()/alert()/prompt() block the page, cannot be styled or translated with the page,
    and a kiosk or a phone may suppress them: the pages ask inline (operator/ui.js askInline)."""
    call = re.compile(r"\b(?:window\.)?(?:confirm|alert|prompt)\s*\(")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(WEB.rglob("*.js"))
        if "vendor" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if call.search(line) and not line.lstrip().startswith(("//", "*"))
    ]
    assert not found, found
