"""``voice-intake``: the command line (DESIGN.md, "Command line").

Exit status: 0 on success, 1 when the work failed, 2 for bad input (usage, configuration,
a file that is not audio). Results go to stdout as JSON; logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from asr.audio import AudioFormatError
from asr.models import ModelError
from config import ConfigError, Settings, load_settings
from voice_gateway.output import UsageError

log = logging.getLogger("voice_intake")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voice-intake", description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, help="TOML settings file (or VOICE_INTAKE_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run SIP and HTTP in one process")
    serve.add_argument("--host", help="HTTP listen address (http.host)")
    serve.add_argument("--port", type=int, help="HTTP port (http.port)")

    call = sub.add_parser("call", help="one simulated inbound call from an audio file")
    call.add_argument("file", type=Path)
    call.add_argument("--caller", default=None, help="caller ID (phone number)")

    tr = sub.add_parser("transcribe", help="transcribe audio files")
    tr.add_argument("files", type=Path, nargs="+")
    tr.add_argument("--format", choices=("tsv", "jsonl"), default="tsv")

    sub.add_parser("draft", help="JSON lines of transcripts in, JSON lines of drafts out")

    drafts = sub.add_parser("drafts", help="list stored drafts, newest first")
    drafts.add_argument("--json", action="store_true", help="one JSON array")
    drafts.add_argument("--limit", type=int, default=50)

    models = sub.add_parser("models", help="speech models: list, verify, fetch")
    msub = models.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="where models are looked for and what is there")
    mv = msub.add_parser("verify", help="check model files against reference checksums")
    mv.add_argument("name", nargs="?")
    mf = msub.add_parser("fetch", help="download a model from its official source")
    mf.add_argument("name")
    mf.add_argument("--dest", type=Path, help="directory to fetch into (default: user cache)")

    users = sub.add_parser("users", help="console accounts")
    usub = users.add_subparsers(dest="users_command", required=True)
    ua = usub.add_parser("add", help="add an account; the password is read from stdin")
    ua.add_argument("name")
    ua.add_argument("--role", choices=("agent", "admin"), required=True)
    usub.add_parser("list", help="list accounts")

    export = sub.add_parser("export", help="export work orders as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--status", default="dispatched",
                        help="dispatched (default), new, merged, rejected or all")

    db = sub.add_parser("db", help="database schema")
    dsub = db.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply Alembic migrations")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = load_settings(args.config)
        logging.getLogger().setLevel("DEBUG" if args.verbose else settings.log_level.upper())
        return _dispatch(args, settings)
    except (ConfigError, UsageError, AudioFormatError) as exc:
        print(f"voice-intake: error: {exc}", file=sys.stderr)
        return 2
    except ModelError as exc:
        print(f"voice-intake: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from voice_gateway import commands

    cmd = args.command
    if cmd == "serve":
        return commands.serve(settings, args.host, args.port)
    if cmd == "call":
        return asyncio.run(commands.call(settings, args.file, args.caller))
    if cmd == "transcribe":
        return asyncio.run(commands.transcribe(settings, args.files, args.format))
    if cmd == "draft":
        return commands.draft_jsonl(settings)
    if cmd == "drafts":
        return asyncio.run(commands.list_drafts(settings, args.json, args.limit))
    if cmd == "models":
        return commands.models(settings, args.models_command, getattr(args, "name", None),
                               getattr(args, "dest", None))
    if cmd == "users":
        return asyncio.run(commands.users(settings, args.users_command,
                                          getattr(args, "name", None), getattr(args, "role", None)))
    if cmd == "export":
        return asyncio.run(commands.export(settings, args.format, args.status))
    if cmd == "db":
        return asyncio.run(commands.db_upgrade(settings))
    raise UsageError(f"unknown command {cmd}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
