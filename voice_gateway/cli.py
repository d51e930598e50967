"""``voice-intake``: the command line (DESIGN.md, "Command line").

Exit status: 0 on success, 1 when the work failed, 2 for bad input (usage, configuration,
a file that is not audio). Results go to stdout as JSON; logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from asr.audio import AudioFormatError
from asr.models import ModelError
from config import ConfigError, Settings, load_settings
from storage.migrate import SchemaOutdated
from voice_gateway import eventloop
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

    call = sub.add_parser("call", help="one simulated inbound call from an audio file, "
                          "or a dialogue from a script of turns (--script)")
    call.add_argument("file", type=Path, nargs="?")
    call.add_argument("--script", type=Path, metavar="TURNS.json",
                      help="a dialogue instead of a file: each turn waits for an IVR "
                           "prompt, then says a WAV and/or presses keys")
    call.add_argument("--caller", default=None, help="caller ID (phone number)")
    call.add_argument("--input", action="append", default=[], metavar="KEY",
                      help="drive the IVR menu first: keys (1, 13800138000#), <silence>, "
                           "<hangup> or speech text; repeatable, one turn each")

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
    usub.add_parser("list", help="list accounts (disabled ones marked)")
    for action, text in (("disable", "disable an account; its sessions end"),
                         ("enable", "enable a disabled account"),
                         ("reset-password", "set a new password (stdin); the account's "
                                            "sessions end")):
        usub.add_parser(action, help=text).add_argument("name")

    export = sub.add_parser("export", help="export work orders as CSV or JSON")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--status", default="dispatched",
                        help="dispatched (default), new, merged, rejected or all")

    ivr = sub.add_parser("ivr", help="IVR menus: show, validate, simulate, publish, prompts")
    isub = ivr.add_subparsers(dest="ivr_command", required=True)
    menu_help = "menu file (JSON or TOML), or `default` for the shipped menu"
    isub.add_parser("show", help="the menu as JSON, defaults filled in").add_argument(
        "file", help=menu_help)
    isub.add_parser("validate", help="check a menu; names the node of each problem"
                    ).add_argument("file", help=menu_help)
    isim = isub.add_parser("simulate", help="run a menu with scripted inputs; one JSON line "
                           "per node visited")
    isim.add_argument("file", help=menu_help)
    isim.add_argument("--input", action="append", default=[],
                      help="a key press (1, 138…#), <silence>, <hangup> or speech text; "
                           "repeatable, one turn each")
    isim.add_argument("--at", help="ISO time of the call with zone (default: now, Beijing)")
    isim.add_argument("--caller", default="13800138000", help="caller ID")
    ipub = isub.add_parser("publish", help="store the menu as a new version and publish it")
    ipub.add_argument("file", help=menu_help)
    ipub.add_argument("--menu-id", default="default",
                      help="menu slot (default: `default`, the menu calls start with)")
    ipub.add_argument("--comment", help="what changed (kept in the audit log)")
    ipr = isub.add_parser("prompts", help="prompts with no audio yet; --render speaks them")
    ipr.add_argument("file", nargs="?", help="menu (default: ivr.menu)")
    ipr.add_argument("--render", action="store_true", help="render them with the TTS command")

    cb = sub.add_parser("callbacks", help="回访 survey callbacks: call one now, list the queue")
    cbsub = cb.add_subparsers(dest="callbacks_command", required=True)
    cbc = cbsub.add_parser("call", help="place one survey call now; prints one JSON object")
    cbc.add_argument("order_id")
    cbc.add_argument("--to", required=True, help="SIP URI (or number, dialled via the trunk)")
    cbl = cbsub.add_parser("list", help="the callback queue, one JSON object a line")
    cbl.add_argument("--status", help="queued, dialling, done, exhausted, cancelled, refused")

    drain = sub.add_parser("drain", help="make a running node stop taking calls, finish "
                           "those in progress, then exit (needs cluster.secret)")
    drain.add_argument("--url", help="the node's HTTP address (default: cluster.internal_url, "
                       "else http://<http.host>:<http.port>)")
    rec = sub.add_parser("recover", help="draft the unfinished calls of a node that does "
                         "not come back, from its recordings")
    rec.add_argument("--node", required=True, help="the dead node's id")
    rec.add_argument("--data-dir", type=Path, help="where its data directory (recordings) "
                     "can be read from here")
    rec.add_argument("--force", action="store_true",
                     help="even if the node reported within cluster.dead_after_s")

    from voice_gateway import learn

    learn.add_parser(sub)
    db = sub.add_parser("db", help="database schema")
    dsub = db.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("upgrade", help="apply Alembic migrations")
    return p


PRIVATE_UMASK = 0o077  # files 0600, directories 0700: the data holds phones and voices


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK)  # everything the service or a command creates is private
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = load_settings(args.config)
        from voice_gateway import logs

        logs.configure(settings, verbose=args.verbose)  # log.format: text or JSON lines
        return _dispatch(args, settings)
    except (ConfigError, UsageError, AudioFormatError) as exc:
        print(f"voice-intake: error: {exc}", file=sys.stderr)
        return 2
    except (ModelError, SchemaOutdated) as exc:
        print(f"voice-intake: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from voice_gateway import commands

    def run(main: Coroutine[Any, Any, int]) -> int:
        return eventloop.run(main, settings.event_loop)

    cmd = args.command
    if cmd == "serve":
        return commands.serve(settings, args.host, args.port)
    if cmd == "call":
        return run(commands.call(settings, args.file, args.caller, args.input,
                                 script=args.script))
    if cmd == "transcribe":
        return run(commands.transcribe(settings, args.files, args.format))
    if cmd == "draft":
        return commands.draft_jsonl(settings)
    if cmd == "drafts":
        return run(commands.list_drafts(settings, args.json, args.limit))
    if cmd == "models":
        return commands.models(settings, args.models_command, getattr(args, "name", None),
                               getattr(args, "dest", None))
    if cmd == "users":
        return run(commands.users(settings, args.users_command,
                                  getattr(args, "name", None), getattr(args, "role", None)))
    if cmd == "export":
        return run(commands.export(settings, args.format, args.status))
    if cmd == "ivr":
        return _ivr(args, settings)
    if cmd == "drain":
        return run(commands.drain(settings, args.url))
    if cmd == "recover":
        return run(commands.recover(settings, args.node, args.data_dir, args.force))
    if cmd == "db":
        return run(commands.db_upgrade(settings))
    if cmd == "learn":
        from voice_gateway import learn

        return run(learn.run(settings, args))
    if cmd == "callbacks":
        from voice_gateway.callbacks import service

        if args.callbacks_command == "call":
            try:
                return run(service.cli_call(settings, args.order_id, args.to))
            except (LookupError, ValueError) as exc:
                raise UsageError(str(exc)) from None
        return run(service.cli_list(settings, args.status))
    raise UsageError(f"unknown command {cmd}")  # pragma: no cover


def _ivr(args: argparse.Namespace, settings: Settings) -> int:
    from voice_gateway import commands

    action = args.ivr_command
    if action == "show":
        return commands.ivr_show(args.file)
    if action == "validate":
        return commands.ivr_validate(args.file)
    if action == "simulate":
        return commands.ivr_simulate(args.file, args.input, args.at, args.caller)
    if action == "publish":
        return eventloop.run(commands.ivr_publish(settings, args.file, args.menu_id,
                                                  args.comment), settings.event_loop)
    if action == "prompts":
        return commands.ivr_prompts(settings, args.file, args.render)
    raise UsageError(f"unknown ivr command {action}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
