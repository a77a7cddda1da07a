"""The operations subcommands of ``classroom-server`` (docs/deploy.md, "Operations")."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from server.config import Config
from server.core.errors import DomainError, InvalidInput
from server.core.passwords import check_password
from server.ops import backup, commands, db_guard
from server.web.codes.service import CodeScope

COMMON = (
    ("--config", "TOML file with a [server] table of settings"),
    ("--data-dir", "data directory (setting: data_dir)"),
    ("--database-url", "database URL (setting: database_url)"),
)


def add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(
        dest="command",
        metavar="COMMAND",
        title="operations (run on the server host; without a command the server serves)",
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        for flag, flag_help in COMMON:  # also accepted after the command name
            cmd.add_argument(flag, default=argparse.SUPPRESS, help=flag_help)
        return cmd

    admin = command("create-admin", "create an administrator (or set a forgotten password)")
    admin.add_argument("username")
    admin.add_argument("--display-name", default="")
    admin.add_argument(
        "--password-file",
        type=Path,
        help="read the password from the first line of FILE (else asked twice on the terminal)",
    )
    admin.add_argument(
        "--reset-password", action="store_true", help="the user exists: set a new password"
    )

    imp = command("import-roster", "import trainees from a CSV or XLSX roster (all or nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--update-existing",
        action="store_true",
        help="a staff number already taken by a trainee of another name updates that trainee"
        " (else the row is refused: roster.staff_no_taken)",
    )

    exp = command(
        "export",
        "export data to a file: `export roster FILE` or"
        " `export attendance --session ID [--format xlsx|csv] [--out FILE]`",
    )
    exp.add_argument("what", choices=["roster", "attendance"])
    exp.add_argument("file", type=Path, nargs="?", help="roster: FILE.xlsx or FILE.csv")
    exp.add_argument("--lang", choices=["zh", "en"], default="zh", help="roster header language")
    exp.add_argument("--session", type=int, help="attendance: the session's id")
    exp.add_argument(
        "--format", choices=["xlsx", "csv"], help="attendance: xlsx (default) or csv (detail)"
    )
    exp.add_argument(
        "--out", type=Path, help="attendance: FILE (default session-ID-report.FORMAT); 0600"
    )

    codes = command("issue-codes", "issue new personal codes into a printable sheet (HTML) or XLSX")
    codes.add_argument("file", type=Path, help="FILE.html (slips to print) or FILE.xlsx; 0600")
    which = codes.add_mutually_exclusive_group()
    which.add_argument("--site", type=int, help="trainees of this site and its rooms")
    which.add_argument("--org-unit", type=int, help="trainees of this unit and its sub-units")
    codes.add_argument(
        "--only-missing", action="store_true", help="only trainees who have no code yet"
    )
    codes.add_argument("--lang", choices=["zh", "en"], default="zh", help="XLSX header language")

    bak = command("backup", "copy the database to FILE while the server runs")
    bak.add_argument("file", type=Path)
    res = command("restore", "replace the database with a backup (stop every node first)")
    res.add_argument("file", type=Path)
    res.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    prune = command("prune-recordings", "delete recordings that ended more than N days ago")
    prune.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    prune.add_argument("--dry-run", action="store_true", help="only say what would go")


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InvalidInput(
                "password.file", f"Cannot read {args.password_file}: {exc}"
            ) from None
        return lines[0] if lines else ""
    if not sys.stdin.isatty():
        raise InvalidInput(
            "password.no_terminal", "No terminal to ask the password on: use --password-file FILE."
        )
    first = getpass.getpass(f"Password for {args.username}: ")
    check_password(first, args.username)
    if getpass.getpass("Again: ") != first:
        raise InvalidInput("password.mismatch", "The two passwords differ.")
    return first


def _base_url(config: Config) -> str:
    if config.allowed_origins:
        return config.allowed_origins[0].rstrip("/")
    return f"http://{config.host}:{config.port}"


def _confirm(args: argparse.Namespace, config: Config) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise InvalidInput("restore.unconfirmed", "Add --yes to replace the database.")
    where = config.effective_database_url.split("@")[-1]
    answer = input(f"Replace every record in {where} with {args.file}? Type yes: ")
    if answer.strip().lower() != "yes":
        raise InvalidInput("restore.unconfirmed", "Nothing was changed.")


def _export(args: argparse.Namespace, config: Config) -> Callable[[], Coroutine[Any, Any, str]]:
    if args.what == "roster":
        if args.file is None:
            raise InvalidInput("export.file_required", "Name the file: export roster FILE.xlsx")
        return lambda: commands.export_roster(config, args.file, args.lang)
    if args.session is None:
        raise InvalidInput("export.session_required", "Name the session: --session ID")
    out = args.out if args.out is not None else args.file
    fmt = args.format or ("csv" if out is not None and out.suffix.lower() == ".csv" else "xlsx")
    return lambda: commands.export_attendance(config, args.session, fmt, out)


def _job(args: argparse.Namespace, config: Config) -> Callable[[], Coroutine[Any, Any, str]]:
    name = args.command
    if name == "create-admin":
        password = _read_password(args)
        return lambda: commands.create_admin(
            config, args.username, password, args.display_name, args.reset_password
        )
    if name == "import-roster":
        return lambda: commands.import_roster(config, args.file, args.update_existing)
    if name == "export":
        return _export(args, config)
    if name == "issue-codes":
        scope = CodeScope(
            org_unit_id=args.org_unit,
            site_id=args.site,
            everyone=args.site is None and args.org_unit is None,
            only_missing=args.only_missing,
        )
        return lambda: commands.issue_codes(config, args.file, scope, _base_url(config), args.lang)
    if name == "backup":
        return lambda: asyncio.to_thread(backup.backup, config.effective_database_url, args.file)
    if name == "restore":
        url = config.effective_database_url
        held = db_guard.hold_for_restore(url)  # SQLite: refuses while a server runs on it
        _confirm(args, config)

        async def restore() -> str:
            await db_guard.refuse_other_sessions(url)  # PostgreSQL: the same, by its sessions
            done = await asyncio.to_thread(backup.restore, url, args.file)
            async with commands.database(config):  # a backup of an older version: migrate it
                pass
            if held is not None:
                held.close()
            return done

        return restore
    assert name == "prune-recordings", name
    return lambda: commands.prune_recordings(config, args.older_than, args.dry_run)


def run_command(args: argparse.Namespace, config: Config) -> int:
    try:
        print(asyncio.run(_job(args, config)()))
    except DomainError as exc:
        print(f"classroom-server {args.command}: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"classroom-server {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"classroom-server {args.command}: interrupted, nothing saved", file=sys.stderr)
        return 130
    return 0
