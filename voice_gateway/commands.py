"""The work behind each ``voice-intake`` subcommand."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from asr.audio import load_audio
from asr.models import CATALOGUE, USER_CACHE, ModelError, find_model, search_dirs, verify
from asr.pool import AsrWorkerPool
from config import Settings
from voice_gateway import eventloop
from voice_gateway.output import UsageError, print_json
from voice_gateway.services import engine_spec, open_services


def serve(settings: Settings, host: str | None, port: int | None) -> int:
    from aiohttp import web

    from voice_gateway.app import init_app

    if host or port:
        http = dataclasses.replace(settings.http, host=host or settings.http.host,
                                   port=port or settings.http.port)
        settings = dataclasses.replace(settings, http=http)
    from console.tls import TlsConfigError, server_context

    try:
        tls = server_context(settings.http)  # HTTPS when http.tls_cert/tls_key are set
    except TlsConfigError as exc:
        raise UsageError(str(exc)) from exc
    # A shared database at an older schema: refused.
    eventloop.run(_check_schema(settings), settings.event_loop)
    engine_spec(settings)  # fail now, with the model error, rather than after start-up
    from voice_gateway.cluster import SIGTERM_DRAINS

    app = init_app(settings)
    app[SIGTERM_DRAINS] = True  # SIGTERM drains (calls in progress end), then exits
    loop = eventloop.new_event_loop(settings.event_loop)  # uvloop unless told otherwise
    logging.getLogger("voice_intake").info("event loop: %s", eventloop.loop_name(loop))
    web.run_app(app, host=settings.http.host, port=settings.http.port,
                ssl_context=tls, print=lambda msg: print(msg, file=sys.stderr), loop=loop)
    return 0


async def _check_schema(settings: Settings) -> None:
    """``SchemaOutdated`` when a shared database is behind this release (SQLite is
    migrated at start-up instead)."""
    from storage import create_engine
    from storage.migrate import require_current

    if not settings.database_url.startswith("postgresql"):
        return
    engine = create_engine(settings.database_url)
    try:
        await require_current(engine)
    finally:
        await engine.dispose()


def _check_audio_file(path: Path) -> None:
    """Fail fast, before models load, on a missing, empty or non-audio file."""
    load_audio(path)


async def call(settings: Settings, path: Path | None, caller: str | None,
               inputs: Sequence[str] = (), *, script: Path | None = None) -> int:
    """A call from a file through the configured menu (``--input``: scripted turns first,
    then the file's speech), or a dialogue from ``script``; prints the call with the IVR
    path under ``ivr``."""
    from voice_gateway.calls.file_call import call_through_menu, configured_menu, outcome_json

    if (path is None) == (script is None):
        raise UsageError("give an audio file or --script TURNS.json (one of them)")
    if script is not None:
        return await _dialogue(settings, script, caller, inputs)
    assert path is not None
    await asyncio.to_thread(_check_audio_file, path)
    async with open_services(settings) as services:
        menu = await configured_menu(services)
        if menu is None and inputs:
            raise UsageError("--input needs the IVR: it is off (ivr.enabled) or no menu is "
                             "usable (`voice-intake ivr validate` says why)")
        result = await call_through_menu(services, path, caller, menu, inputs)
    print_json(outcome_json(result.outcome, ivr=result.ivr, with_ivr=True))
    return 0


async def _dialogue(settings: Settings, script: Path, caller: str | None,
                    inputs: Sequence[str]) -> int:
    from voice_gateway.calls.dialogue import ScriptError, call_with_script, load_script
    from voice_gateway.calls.file_call import configured_menu, outcome_json

    if inputs:
        raise UsageError("--input and --script do not go together: put keys in the script")
    try:
        await asyncio.to_thread(load_script, script)  # fail fast, before models load
    except ScriptError as exc:
        raise UsageError(str(exc)) from exc
    async with open_services(settings) as services:
        menu = await configured_menu(services)
        if menu is None:
            raise UsageError("--script needs the IVR: it is off (ivr.enabled) or no menu is "
                             "usable (`voice-intake ivr validate` says why)")
        result = await call_with_script(services, script, caller, menu)
    print_json(outcome_json(result.outcome, ivr=result.ivr, with_ivr=True))
    return 0


async def transcribe(settings: Settings, files: list[Path], fmt: str) -> int:
    from tqdm import tqdm

    from asr.batch import transcribe_files

    for f in files:
        await asyncio.to_thread(_check_audio_file, f)
    spec, _label = engine_spec(settings)
    pool = AsrWorkerPool(spec, settings.asr_workers, settings.asr.queue_size,
                         max_batch=settings.asr.max_batch)
    bar = tqdm(total=len(files), unit="file", file=sys.stderr, disable=not sys.stderr.isatty())
    try:
        await pool.start()
        results = await transcribe_files(pool, settings.vad, files, lambda _p: bar.update(1))
    finally:
        bar.close()
        await pool.close()
    for r in results:
        if fmt == "tsv":
            sys.stdout.write(f"{r['path']}\t{r['text']}\n")
        else:
            print_json(r)
    return 0


def draft_jsonl(settings: Settings) -> int:
    from workorders import jsonl

    return jsonl.run(sys.stdin, sys.stdout, settings.drafting, datetime.now(UTC))


async def list_drafts(settings: Settings, as_json: bool, limit: int) -> int:
    async with open_services(settings, with_asr=False) as services:
        drafts = await services.store.list_drafts(limit)
    if as_json:
        print_json(drafts)
        return 0
    for d in drafts:
        flag = "!" if d.get("urgent") else " "
        where = " ".join(x for x in (d.get("district"), d.get("street")) if x) or "-"
        print(f"{d['created_at'][:19]} {flag} {d['id'][:8]} {d['status']:<9} "
              f"{d.get('category') or '-':<6} {where}  {d.get('summary') or ''}")
    return 0


def models(settings: Settings, action: str, name: str | None, dest: Path | None) -> int:
    if action == "list":
        print("searched, in order: " + ", ".join(str(d) for d in search_dirs(settings)))
        for model_name, info in CATALOGUE.items():
            path = find_model(model_name, settings)
            state = str(path) if path else "missing"
            print(f"{model_name:<26} {info.engine:<8} {info.language:<6} {state}")
        return 0
    if action == "verify":
        names = [name] if name else [n for n in CATALOGUE if find_model(n, settings)]
        if not names:
            raise ModelError("no model present to verify; `voice-intake models list` shows where")
        failed = False
        for model_name in names:
            path = find_model(model_name, settings)
            if path is None:
                print(f"{model_name}: missing")
                failed = True
                continue
            for check in verify(model_name, path):
                print(f"{model_name}: {check.path}: {check.status} {check.detail}".rstrip())
                failed |= check.status in ("mismatch", "missing")
        return 1 if failed else 0
    if action == "fetch":
        from asr.fetch import fetch

        if name is None:
            raise UsageError("models fetch needs a model name")
        if (existing := find_model(name, settings)) is not None:
            print(f"{name} is already present at {existing}")
            return 0
        root = dest or settings.model_dir or USER_CACHE.expanduser()
        path = fetch(name, root, progress=lambda m: print(m, file=sys.stderr))
        print(f"{name} fetched and verified: {path}")
        return 0
    raise UsageError(f"unknown models command {action}")  # pragma: no cover


async def users(settings: Settings, action: str, name: str | None, role: str | None) -> int:
    """``users add NAME --role R`` and ``users reset-password NAME`` (the password from
    stdin: one line, or twice on a terminal), ``users disable|enable NAME``, ``users list``
    (disabled accounts marked). Changes are audited as ``cli:<login name>``."""
    from console import accounts_of
    from storage import AccountError

    password = _read_password() if action in ("add", "reset-password") else ""
    by = f"cli:{_login_name()}"
    async with open_services(settings, with_asr=False) as services:
        accounts = accounts_of(settings, services.store)
        try:
            if action == "add":
                account = await accounts.add_user(name or "", password, role or "", by=by)
                print(f"added {account.role} {account.username}", file=sys.stderr)
            elif action in ("disable", "enable"):
                account = await accounts.set_disabled(name or "", action == "disable", by=by)
                print(f"{action}d {account.username}", file=sys.stderr)
            elif action == "reset-password":
                ended = await accounts.set_password(name or "", password, by=by)
                print(f"password of {name} reset; {ended} session(s) ended", file=sys.stderr)
            else:
                for a in await accounts.list_users(include_disabled=True):
                    print(f"{a.username}\t{a.role}" + ("\tdisabled" if a.disabled else ""))
        except AccountError as exc:
            raise UsageError(str(exc)) from exc
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        import getpass

        first, second = getpass.getpass("password: "), getpass.getpass("again: ")
        if first != second:
            raise UsageError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def export(settings: Settings, fmt: str, status: str) -> int:
    from storage import Reports
    from storage.reports import to_csv, to_json

    async with open_services(settings, with_asr=False) as services:
        rows = await Reports(services.store.engine).export_rows(None if status == "all" else status)
    sys.stdout.write(to_csv(rows) if fmt == "csv" else to_json(rows))
    return 0


async def drain(settings: Settings, url: str | None) -> int:
    """POST /internal/drain to a running node; prints its answer."""
    from aiohttp import ClientError, ClientSession, ClientTimeout

    if not settings.cluster.secret:
        raise UsageError("cluster.secret is not set: the node's /internal/drain is off "
                         "(or send the node SIGTERM)")
    http = settings.http
    base = url or settings.cluster.internal_url or f"http://{http.host}:{http.port}"
    try:
        async with ClientSession(timeout=ClientTimeout(total=10)) as session, session.post(
                f"{base.rstrip('/')}/internal/drain",
                headers={"Authorization": f"Bearer {settings.cluster.secret}"}) as resp:
            if resp.status != 202:
                print(f"voice-intake: error: {base} answered {resp.status}", file=sys.stderr)
                return 1
            print_json(await resp.json())
    except (ClientError, TimeoutError) as exc:
        print(f"voice-intake: error: {base} unreachable ({type(exc).__name__})",
              file=sys.stderr)
        return 1
    return 0


async def recover(settings: Settings, node: str, data_dir: Path | None, force: bool) -> int:
    """Draft a dead node's unfinished calls here (``voice_gateway.calls.takeover``)."""
    from voice_gateway.calls.takeover import NodeAlive, take_over

    if data_dir is not None and not await asyncio.to_thread(data_dir.is_dir):
        raise UsageError(f"--data-dir {data_dir}: not a directory")
    async with open_services(settings) as services:
        try:
            result = await take_over(services, node, data_dir, force=force)
        except NodeAlive as exc:
            print(f"voice-intake: error: {exc}", file=sys.stderr)
            return 1
    print_json({"node": result.node, "taken_over": len(result.taken),
                "drafted": len(result.drafted), "recordings_missing": result.recordings_missing})
    return 0 if len(result.drafted) == len(result.taken) else 1


async def db_upgrade(settings: Settings) -> int:
    """Apply the migrations (on PostgreSQL under an advisory lock: run from one node, or
    from several at once, they run once)."""
    from storage import create_engine, upgrade

    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url, settings.node_id)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"database at head: {engine.url.render_as_string(hide_password=True)}",
          file=sys.stderr)
    return 0




# --------------------------------------------------------------------------- ivr


def _menu_problems(errors: Sequence[object]) -> int:
    """Print each problem (it names its node) on stderr; exit status 1."""
    for e in errors:
        print(f"voice-intake: {e}", file=sys.stderr)
    return 1


def ivr_show(file: str) -> int:
    from ivr.cli import show
    from ivr.errors import MenuFormatError

    try:
        data = show(file)
    except MenuFormatError as exc:
        return _menu_problems(exc.errors)
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return 0


def ivr_validate(file: str) -> int:
    from ivr.cli import validate_file

    problems = validate_file(file)
    if problems:
        return _menu_problems(problems)
    print(f"{file}: valid", file=sys.stderr)
    return 0


def ivr_simulate(file: str, inputs: Sequence[str], at: str | None, caller: str | None) -> int:
    from ivr.cli import json_lines, simulate_file
    from ivr.errors import MenuFormatError
    from voice_gateway.calls.simulate import simulate

    try:
        when = datetime.fromisoformat(at) if at else None
    except ValueError as exc:
        raise UsageError(f"--at {at!r} is not an ISO date and time") from exc
    if when is not None and when.tzinfo is None:
        raise UsageError("--at needs a time zone, e.g. 2026-03-02T10:00+08:00")
    try:
        path = simulate_file(file, list(inputs), when, caller, simulate=simulate)
    except MenuFormatError as exc:
        return _menu_problems(exc.errors)
    sys.stdout.write(json_lines(path))
    return 0


async def ivr_publish(settings: Settings, file: str, menu_id: str, comment: str | None) -> int:
    """Store ``file`` as a new version of ``menu_id`` and publish it; print the version."""
    from ivr.errors import MenuFormatError
    from ivr.loader import read_menu_data
    from storage.menus import MenuInvalid, MenuVersions

    try:
        data = read_menu_data(file)
    except MenuFormatError as exc:
        return _menu_problems(exc.errors)
    if not isinstance(data, dict):
        return _menu_problems(["menu: the file must hold a JSON object"])
    user = f"cli:{_login_name()}"
    async with open_services(settings, with_asr=False) as services:
        menus = MenuVersions(services.store.engine)
        try:
            saved = await menus.save_draft(menu_id, data, user, comment)
            if saved.problems:
                return _menu_problems(saved.problems)
            published = await menus.publish(menu_id, saved.version.version, user, comment)
        except MenuInvalid as exc:
            return _menu_problems(exc.errors)
    print_json({"menu_id": published.menu_id, "version": published.version,
                "status": published.status, "name": published.data.get("name")})
    return 0


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()[:40]
    except (KeyError, OSError):
        return "unknown"


def ivr_prompts(settings: Settings, file: str | None, render: bool) -> int:
    """Prompts of the menu with no audio in the prompt directory (JSON lines); with
    ``render``, speak them with the configured TTS command."""
    from ivr.errors import MenuFormatError, PromptError
    from ivr.loader import load_menu
    from ivr.prompts import missing_prompts, render_missing

    try:
        menu = load_menu(file or settings.ivr.menu)
    except MenuFormatError as exc:
        return _menu_problems(exc.errors)
    prompt_dir = settings.prompt_dir
    missing = missing_prompts(menu, prompt_dir)
    rendered: list[str] = []
    if render and missing:
        try:
            rendered = render_missing(menu, prompt_dir, settings.ivr)
        except PromptError as exc:
            print(f"voice-intake: error: {exc}", file=sys.stderr)
            return 1
    for pid in missing:
        print_json({"prompt": pid, "text": menu.prompts.get(pid),
                    "status": "rendered" if pid in rendered else "missing"})
    left = len(missing) - len(rendered)
    print(f"{prompt_dir}: {len(missing)} prompt(s) without audio"
          + (f", {len(rendered)} rendered, {left} left" if render else ""), file=sys.stderr)
    return 1 if render and left else 0
