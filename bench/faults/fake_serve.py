"""``voice-intake serve`` with the fake ASR engine: the same application (``init_app``), the
same settings from ``VOICE_INTAKE_*``, but ``EngineSpec(kind="fake")`` in the worker
processes instead of a model (the configuration has no way to name the fake engine).

    .venv/bin/python -m bench.faults.fake_serve [--delay SECONDS]

Used by ``python -m bench.faults --engine fake``: the faults are the same, decoding is
cheap and the transcripts are ``utterance N``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import AbstractAsyncContextManager

from aiohttp import web

from asr.engines.base import EngineSpec
from config import Settings, load_settings
from voice_gateway.app import init_app
from voice_gateway.services import Services, open_services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults.fake_serve")
    parser.add_argument("--delay", default="0.3",
                        help="seconds each decode takes in the fake engine (default 0.3)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = load_settings()
    logging.getLogger().setLevel(settings.log_level.upper())
    spec = EngineSpec(kind="fake", options=(("delay", str(args.delay)),))

    def services(s: Settings) -> AbstractAsyncContextManager[Services]:
        return open_services(s, spec=spec, asr_in_background=True)

    web.run_app(init_app(settings, services), host=settings.http.host,
                port=settings.http.port, print=lambda msg: print(msg, file=sys.stderr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
