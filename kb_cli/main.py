"""`kb index | ask | serve | ui`: parse arguments, call the library, print for people.

Domain errors (KBError) and paths the system refuses (OSError) become one clean line on stderr
and exit status 1; bad usage and bad ``KB_*`` settings exit 2. Values that would fail only after
a long run (an eval's output files) are checked before it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sqlite3
import sys
import textwrap
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from indexer.errors import KBError
from indexer.inputs import is_plain_date
from indexer.settings import Settings, get_settings

if TYPE_CHECKING:
    from indexer.build import BuildReport, Progress

logger = logging.getLogger("kb")

MAX_DROP = 0.01  # kb eval --baseline: the largest drop per metric allowed when none is given


class UsageError(Exception):
    """A command-line value the command cannot use (exit status 2, like argparse's errors)."""


class EvalRunError(Exception):
    """`kb eval` could not finish its run (a locked cache, a model that will not load): exit
    status 3, so a CI gate tells it from a regression (1) and from bad input (2)."""


def parse_filters(text: str | None) -> dict[str, Any] | None:
    """``--filters`` as a JSON object; anything else is a usage error, not a traceback."""
    if not text:
        return None
    try:
        filters = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--filters is not valid JSON: {exc}") from None
    if not isinstance(filters, dict):
        raise UsageError('--filters must be a JSON object such as {"markets": ["DE"]}')
    return filters


def parse_as_of(text: str | None) -> str | None:
    """``--as-of`` as the API takes it: a date written YYYY-MM-DD, no time and no other ISO
    form, so a question gets the same answer from both."""
    if text is None:
        return None
    if not is_plain_date(text):
        raise UsageError(f"--as-of must be a date written YYYY-MM-DD, got {text!r}")
    try:
        date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--as-of {text} is not a day of the calendar") from None
    return text


def port(text: str) -> int:
    """``--port`` as a TCP port: 0 would have meant the default and 70000 a traceback."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535, got {value}")
    return value


def root_path(text: str) -> str:
    """``--root-path`` as a URL path prefix: "/kb", not "kb", "/kb/" or a full URL, which would
    make every link the API writes (the docs page's, a source page's PDF link) miss."""
    if not text.startswith("/") or text.endswith("/") or "//" in text or "?" in text:
        raise argparse.ArgumentTypeError(f"must be a path such as /kb, got {text!r}")
    return text


def seconds(minimum: float, inclusive: bool) -> Callable[[str], float]:
    """A finite number of seconds above ``minimum`` (or at it, when ``inclusive``): a poll
    interval of 0 or less would walk the tree in a busy loop."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        ok = value >= minimum if inclusive else value > minimum
        if not math.isfinite(value) or not ok:
            bound = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be a finite number {bound} {minimum:g}")
        return value

    return parse


def group_list(text: str) -> list[str]:
    """``--groups a,b`` as a list; one naming no group is refused, not read as 'none' or
    'the default'."""
    groups = [g.strip() for g in text.split(",") if g.strip()]
    if not groups:
        raise UsageError(f"--groups {text!r} names no access group (e.g. --groups all-agents)")
    return groups


def check_output(flag: str, path: str) -> None:
    """Refuse an output file that cannot be written before the work that fills it is done."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {path} is a folder; name a file to write")
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (
        target.exists() and not os.access(target, os.W_OK)
    ):
        raise UsageError(f"{flag} {path}: not writable")


def _settings(args: argparse.Namespace) -> Settings:
    """The settings, with ``--index-dir`` winning over the environment: a flag typed for this
    command names the local index it means, even where KB_DATABASE_URL points elsewhere."""
    settings = get_settings()
    if getattr(args, "index_dir", None):
        if settings.database_url:
            sys.stderr.write(
                f"kb: note: --index-dir given: using the local index in {args.index_dir}, "
                "not KB_DATABASE_URL\n"
            )
        update = {"index_dir": Path(args.index_dir), "database_url": ""}
        settings = settings.model_copy(update=update)
    return settings


def _logs_above_bars() -> contextlib.AbstractContextManager:
    """While it lasts, warnings logged as a bar is drawn (an unknown metadata field...) print
    above the bar, not onto its line."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm()


def _stop_on_sigterm() -> None:
    """SIGTERM raises KeyboardInterrupt: "Stopped watching." when idle, "kb: interrupted"
    (exit 130) mid-build, the index lock released either way (it ended silently, exit -15,
    leaving its lock file)."""
    import signal

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _warnings_kept() -> contextlib.AbstractContextManager[list[str]]:
    """The indexer's warnings while it lasts: logged as they come (above the bars), and
    repeated in the summary, where they were lost among a long build's bars (a skipped file
    is listed there already)."""
    from indexer.logs import warnings_kept

    return warnings_kept("indexer", lambda record: not getattr(record, "in_summary", False))


def _print_warnings(warned: list[str], said: list[str]) -> None:
    """The build's warnings, once more at the end; under --watch only when they changed."""
    if not warned:
        said.clear()
        return
    if warned == said:
        sys.stdout.write(f"{len(warned)} warning(s), the same as in the last build.\n")
        return
    sys.stdout.write(f"{len(warned)} warning(s) during the build:\n")
    for line in warned:
        sys.stdout.write(f"  - {' '.join(line.split())}\n")
    said[:] = warned


def _progress_bars(quiet: bool) -> tuple[Progress, Callable[[], None]]:
    """tqdm bars on stderr, one per stage of a long run, and the call that closes the last."""
    from tqdm import tqdm

    from indexer.build import Progress

    bars: list[tqdm] = []

    def start(stage: str, total: int) -> None:
        close()
        label, unit = {
            "load": ("reading files", "file"),
            "chunk": ("chunking", "doc"),
            "embed": ("embedding", "chunk"),
            "embed-windows": ("embedding sentence windows (passages searchable)", "text"),
            "write": ("writing the index", "index"),
            "questions": ("searching", "question"),
        }.get(stage, (stage, "item"))
        bars.append(tqdm(total=total, desc=label, unit=unit, disable=quiet, file=sys.stderr))

    def advance(n: int) -> None:
        if bars:
            bars[-1].update(n)

    def close() -> None:
        if bars:
            bars.pop().close()

    return Progress(on_start=start, on_advance=advance), close


def cmd_index(args: argparse.Namespace) -> int:
    from indexer.build import build_index
    from indexer.embedding import Embedder
    from indexer.memo import RebuildMemo

    settings = _settings(args)
    source = Path(args.path) if args.path else settings.kb_dir
    if not settings.database_url and settings.index_dir.exists():
        if not settings.index_dir.is_dir():
            raise UsageError(f"the index folder {settings.index_dir} is a file, not a folder")
    progress, close_bars = _progress_bars(args.quiet)
    embedder = Embedder.from_settings(settings)
    memo = RebuildMemo() if args.watch else None  # unchanged files are not parsed again
    listed: list[set[tuple[str, str]]] = []  # the skipped files the last build listed
    said: list[str] = []  # the warnings the last build repeated in its summary

    def index_once() -> None:
        try:
            with _logs_above_bars(), _warnings_kept() as warned:
                report = build_index(
                    source,
                    settings.database_url or settings.index_dir,
                    embedder,
                    max_tokens=settings.chunk_max_tokens,
                    min_tokens=settings.chunk_min_tokens,
                    progress=progress,
                    cache_path=settings.embed_cache_path,
                    windows=settings.window_vectors,
                    ann_min_chunks=settings.ann_min_chunks,
                    memo=memo,
                    allow_empty=args.allow_empty,
                    replace=args.replace,
                    early_windows=settings.early_windows,
                )
        finally:  # a failed build under --watch must not leave its bar open over the log
            close_bars()
        listed[:] = [_print_build_report(report, listed[0] if listed else None)]
        _print_warnings(warned, said)

    from indexer.watch import snapshot, watch

    if args.watch:  # a service manager's stop (SIGTERM) ends the watch as Ctrl-C does
        _stop_on_sigterm()
    before = snapshot(source) if args.watch and source.exists() else None
    failed: list[str] | None = None
    try:
        index_once()
    except Exception as exc:  # noqa: BLE001 - under --watch any failure is retried
        if not args.watch or before is None:  # nothing to watch: a bad path or settings
            raise
        # An empty folder, a locked, read-only or full index: the watcher retries, and
        # indexes once it is fixed (an OSError ended the watch, though rebuilds retry it).
        sys.stderr.write(f"kb: the first build failed: {_one_line(exc)}; retrying\n")
        failed = []
    if not args.watch:
        return 0
    embedder.warm_up()  # load the model and the writer's modules now, not on the first edit
    if not settings.database_url:
        from indexer.store import warm_up

        warm_up()

    def rebuild(changes: list[str]) -> None:
        more = f" and {len(changes) - 3} more" if len(changes) > 3 else ""
        shown = ", ".join(changes[:3]) + more
        sys.stdout.write(f"Changed: {shown}\n" if changes else "Building again...\n")
        index_once()
        sys.stdout.flush()

    sys.stdout.write(f"Watching {source} for changes (Ctrl-C to stop)...\n")
    sys.stdout.flush()
    try:
        watch(
            source,
            rebuild,
            interval_s=args.interval,
            debounce_s=args.debounce,
            initial=before,
            polling=args.poll,
            pending=failed,
        )
    except KeyboardInterrupt:
        sys.stdout.write("Stopped watching.\n")
    return 0


def _one_line(exc: Exception) -> str:
    """An error as ``main`` prints it: a refused path as its reason and file name."""
    if isinstance(exc, OSError):
        return os_error_text(exc)
    return str(exc) if isinstance(exc, KBError) else f"{type(exc).__name__}: {exc}"


def os_error_text(exc: OSError) -> str:
    """A file-system error in one line: its reason, and the file it names."""
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")


def _print_build_report(
    report: BuildReport, same_as: set[tuple[str, str]] | None = None
) -> set[tuple[str, str]]:
    """The build's summary; the skipped files are listed unless they are ``same_as`` the last
    build's (under --watch the whole list came again after every save). Returns them."""
    from indexer.pgstore import shown

    out = sys.stdout
    if report.unchanged:
        out.write(
            f"Index at {shown(report.index_dir)} is up to date ({report.documents} documents, "
            f"{report.chunks} chunks; checked in {report.seconds:.1f}s).\n"
        )
    else:
        out.write(
            f"Indexed {report.documents} documents into {report.chunks} chunks "
            f"in {report.seconds:.1f}s -> {shown(report.index_dir)}\n"
        )
        out.write(
            f"Embedded {report.embedded} new texts, reused {report.reused} (from the previous "
            "index, the embedding cache, or a text the corpus repeats).\n"
        )
        if report.searchable_seconds is not None:
            out.write(
                f"Searchable after {report.searchable_seconds:.1f}s with sentence windows pooled "
                "from their passages; complete with windows embedded apart at the end.\n"
            )
    if report.kept:
        out.write(
            f"Kept {len(report.kept)} document(s) as last indexed: their files now fail to read, "
            "and agents see the earlier version until each file is fixed or deleted:\n"
        )
        for item in report.kept:
            out.write(f"  - {item.path}: {' '.join(item.reason.split())}\n")
    kept = {item.path for item in report.kept}
    skipped = [item for item in report.skipped if item.path not in kept]
    listed = {(item.path, item.reason) for item in skipped}
    if skipped and listed == same_as:
        out.write(f"Skipped {len(skipped)} file(s), the same as in the last build.\n")
    elif skipped:
        out.write(f"Skipped {len(skipped)} file(s):\n")
        for item in skipped:
            out.write(f"  - {item.path}: {' '.join(item.reason.split())}\n")
    else:
        out.write("Skipped 0 files.\n")
    if report.ignored:
        kinds = ", ".join(
            f"{n} {kind or 'without extension'}" for kind, n in report.ignored.items()
        )
        out.write(
            f"Ignored {sum(report.ignored.values())} file(s) of types kb-assistant does not "
            f"read ({kinds}); it reads .md, .txt, .html, .pdf and .docx.\n"
        )
    return listed


def cmd_ask(args: argparse.Namespace) -> int:
    from indexer.search import Searcher

    filters = parse_filters(args.filters)  # before the model loads: a typo fails at once
    as_of = parse_as_of(args.as_of)
    settings = _settings(args)
    searcher = Searcher.from_settings(settings)
    searcher.warm_up()  # so took_ms measures the query, not the model load
    response = searcher.search(
        args.question,
        top_k=args.top_k,
        filters=filters,
        as_of=as_of,
        mode=args.mode,
        context=args.context,
        include_superseded=args.include_superseded,
    )
    if args.json:
        sys.stdout.write(json.dumps(response.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(format_response(response))
    return 0


def format_response(response) -> str:
    """Cited passages for a terminal: citation line, highlighted sentence (a table row under
    its table's header), passage."""
    from indexer.search import version_label

    if not response.results:
        return f"No passages found ({response.reason}).\n"
    lines = []
    if response.acronyms:
        read = ", ".join(f"{short} as {long}" for short, long in response.acronyms)
        lines += [f"(read {read})", ""]
    if response.markets:
        read = ", ".join(f"{name} as {code}" for name, code in response.markets)
        lines += [f"(also searched {read})", ""]
    if response.unlisted_markets:
        named = ", ".join(f"{name} ({code})" for name, code in response.unlisted_markets)
        lines += [f"(no document lists {named} among its markets: check these apply there)", ""]
    if response.spellings:
        read = ", ".join(f"{typed} as {word}" for typed, word in response.spellings)
        lines += [f"(searched {read})", ""]
    for pick in response.versions:
        lines += [
            f"(searched {pick.doc_id} too: {pick.why}; {pick.instead_of} is the version in force)",
            "",
        ]
    if not response.answerable:
        lines += [
            f"No good answer in the knowledge base: {response.reason}.",
            "Closest passages, for reference only:",
            "",
        ]
    for r in response.results:
        path = " > ".join(r.heading_path) or "(top)"
        page = f", p. {r.page}" if r.page else ""
        lines.append(f"[{r.rank}] {r.title} {version_label(r.metadata)} score {r.score:.3f}")
        lines.append(f"    {r.doc_id} :: {path}{page} :: chars {r.start}-{r.end}")
        if r.highlight.table_header:  # a table row alone does not say which column is which
            lines.append(f"    >> {r.highlight.table_header}")
        lines.append(f"    >> {' '.join(r.highlight.text.split())}")
        for ctx in r.context_before:
            lines.append(
                textwrap.indent(textwrap.shorten(" ".join(ctx["text"].split()), 300), "    .. ")
            )
        body = textwrap.indent(textwrap.shorten(" ".join(r.text.split()), 600), "    ")
        lines.append(body)
        for ctx in r.context_after:
            lines.append(
                textwrap.indent(textwrap.shorten(" ".join(ctx["text"].split()), 300), "    .. ")
            )
        # The one line every client shows, to paste into a ticket: it alone carries the
        # NOT IN FORCE note of a version that did not apply on the search's date.
        lines.append(f"    cite: {r.citation}")
        lines.append("")
    as_of = f"as of {response.as_of}, " if response.as_of else ""
    lines.append(
        f"({len(response.results)} result{'' if len(response.results) == 1 else 's'} in "
        f"{response.took_ms:.0f} ms, {as_of}"
        f"index {response.index_version})"
    )
    return "\n".join(lines) + "\n"


def _loopback(host: str) -> bool:
    """Whether ``host`` is this machine only: 'localhost' or a loopback address (a name that
    merely starts with '127.' can resolve anywhere)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import check_app, create_app

    settings = _settings(args)
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    if not settings.auth_required and not _loopback(host):
        raise KBError(
            f"refusing to listen on {host} with authentication off: set KB_AUTH_REQUIRED=true "
            "and create keys with `kb keys create`, or listen on 127.0.0.1"
        )
    workers = settings.worker_count()
    root = {"root_path": args.root_path} if args.root_path else {}
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info", **root)
        return 0
    # Each worker builds its own app: build one here first, so what the app refuses at start
    # (a database behind on migrations, a key store that cannot be opened) stops `kb serve`
    # with one line; in the workers it was a traceback per worker, restarted for ever.
    check_app(settings)
    # Worker processes build their own app from the environment: carry the CLI's choices there.
    os.environ["KB_INDEX_DIR"] = str(settings.index_dir)
    os.environ["KB_DATABASE_URL"] = settings.database_url  # "" when --index-dir chose local
    uvicorn.run(
        "api.app:app_factory", factory=True, workers=workers, host=host, port=port,
        log_level="info", **root,
    )  # fmt: skip
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """`kb db start|stop|migrate`: a local PostgreSQL for development, and schema upgrades."""
    from indexer import pgdev, pgstore

    settings = _settings(args)
    if args.action == "stop":
        if pgdev.stop(settings.pg_data_dir):
            sys.stdout.write(f"Stopped the database in {settings.pg_data_dir}.\n")
        else:
            sys.stdout.write(f"No database server was running in {settings.pg_data_dir}.\n")
        return 0
    if args.action == "start":
        url = pgdev.start(settings.pg_data_dir)
    else:
        url = args.url or settings.database_url
        if not pgstore.is_database_url(url):
            raise KBError("no database: set KB_DATABASE_URL or pass --url postgresql://...")
    applied = pgstore.migrate(url)
    sys.stdout.write(f"Schema migrations applied: {', '.join(applied) or 'none (up to date)'}\n")
    if args.action == "start":
        sys.stdout.write(f"Database running. Use it with:\n  export KB_DATABASE_URL='{url}'\n")
    return 0


def streamlit_args(app: Path, port: str, host: str) -> list[str]:
    """Arguments after ``python`` that serve the UI (shared with the browser tests).

    The toolbar shows viewers' options only: an agent has no use for Streamlit's Deploy
    button or its developer menu (rerun on save, clear cache).
    """
    return [
        "-m", "streamlit", "run", str(app),
        "--server.port", port,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.address", host,
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def cmd_ui(args: argparse.Namespace) -> int:
    """Become the Streamlit server (exec, not a child): a SIGTERM to `kb ui` then stops the
    server itself, instead of leaving it running and holding the port."""
    settings = _settings(args)
    app = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    # Without an explicit URL, follow the configured API port (KB_API_PORT).
    default_url = os.environ.get("KB_API_URL") or settings.api_local_url()
    env = {**os.environ, "KB_API_URL": args.api_url or default_url}
    port = str(args.port or settings.ui_port)
    host = args.host or "127.0.0.1"
    if not _loopback(host) and not args.public:
        raise KBError(
            f"refusing to serve the UI on {host}: it has no sign-in, so anyone who reaches it "
            "searches and reads the search log with the UI's API key; listen on 127.0.0.1 "
            "behind your own sign-in proxy, or pass --public to accept that"
        )
    cmd = [sys.executable, *streamlit_args(app, port, host)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)
    return 0  # not reached: this process is now the server


def _read_baseline(path: str) -> dict[str, Any]:
    """The --baseline file, checked before any indexing; a bad one is a usage error (2)."""
    from eval.report import BaselineError, check_baseline

    try:  # a byte-order mark allowed, as in the labelled sets: Windows tools write one
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"--baseline {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--baseline {path}: cannot read it ({exc})") from None
    try:
        return check_baseline(json.loads(text))
    except json.JSONDecodeError as exc:
        raise UsageError(f"--baseline {path} is not valid JSON: {exc}") from None
    except RecursionError:  # "[[[[..." deeper than the parser goes: a traceback, not a gate
        raise UsageError(
            f"--baseline {path} is not a kb eval --json file: nested too deep"
        ) from None
    except BaselineError as exc:
        raise UsageError(f"--baseline {path} {exc}") from None


def _note_local_eval(settings: Settings) -> None:
    """Say that an evaluation measures local files: with KB_DATABASE_URL set it looked like a
    measurement of the database backend."""
    if settings.database_url:
        sys.stderr.write(
            "kb: note: kb eval indexes each set into local files under KB_EVAL_CACHE_DIR; "
            "KB_DATABASE_URL is not used (both backends rank alike: tests/test_backends.py)\n"
        )


def cmd_eval(args: argparse.Namespace) -> int:
    """Exit 0 when the gate passes, 1 on a regression, 2 when the dataset, the baseline or
    --max-drop cannot gate this run (refused before indexing, so a bad gate costs no minutes),
    3 when the run itself fails."""
    from eval.datasets import load_dataset
    from eval.report import (
        BaselineError,
        as_baseline,
        baseline_notes,
        baseline_text,
        check_baseline_fits,
        check_max_drop,
        markdown_table,
        metrics_compared,
        mode_comparison,
        question_changes,
        regressions,
    )
    from eval.runner import metric_names, run_modes

    settings = _settings(args)
    _note_local_eval(settings)
    modes = ["default", "dense", "bm25", "hybrid"] if args.mode == "all" else [args.mode]
    if args.max_drop is not None and not args.baseline:
        raise UsageError(
            f"--max-drop {args.max_drop} gates nothing without --baseline FILE.json: name the "
            "earlier run to compare with"
        )
    try:
        max_drop = check_max_drop(MAX_DROP if args.max_drop is None else args.max_drop)
    except ValueError as exc:
        raise UsageError(f"--{str(exc).replace('_', '-', 1)}") from None
    baseline = _read_baseline(args.baseline) if args.baseline else None
    outputs = (
        ("--json", args.json),
        ("--report", args.report),
        ("--chart", args.chart),
        ("--save-baseline", args.save_baseline),
    )
    for flag, path in outputs:
        if path:
            check_output(flag, path)
    if args.chart and Path(args.chart).suffix.lower() != ".png":  # else it fails after the run
        raise UsageError(f"--chart {args.chart}: the chart is a PNG image; name a .png file")
    written: dict[Path, str] = {}
    for flag, path in outputs:
        if path and (same := written.setdefault(Path(path).resolve(), flag)) != flag:
            raise UsageError(f"{flag} {path} is also {same}'s file: one would overwrite the other")
    if args.split is not None and not args.split.strip():
        raise UsageError("--split is empty; name a split (e.g. dev) or leave the flag out")
    for flag, path in (("--json", args.json), ("--save-baseline", args.save_baseline)):
        if path and args.baseline and Path(path).resolve() == Path(args.baseline).resolve():
            raise UsageError(
                f"{flag} {path} is the --baseline file: a run that regressed would replace "
                "the figures it is gated against; write the run elsewhere and copy it over "
                "once it passes"
            )
    try:  # a set that cannot be read is bad input (2), never to be taken for a regression (1)
        dataset = load_dataset(Path(args.dataset), args.split)
    except KBError as exc:
        raise UsageError(str(exc)) from None
    if baseline is not None:
        try:
            check_baseline_fits(
                baseline, dataset.name, dataset.split, {m: metric_names(dataset) for m in modes}
            )
        except BaselineError as exc:
            raise UsageError(f"--baseline {args.baseline} {exc}") from None
    cache_dir = Path(args.cache_dir) if args.cache_dir else settings.eval_cache_dir
    progress, close_bars = _progress_bars(args.quiet)
    try:
        with _logs_above_bars():
            results = run_modes(dataset, modes, settings, cache_dir, progress)
    except KBError as exc:
        raise EvalRunError(f"the evaluation could not run: {exc}") from None
    except OSError as exc:  # the cache folder cannot be made or written, a full disk: nothing
        # was measured, so not exit 1, which a gate reads as a regression
        raise EvalRunError(f"the evaluation could not run: {os_error_text(exc)}") from None
    finally:
        close_bars()
    table = markdown_table(results)
    if compared := mode_comparison(results):
        table += "\n" + compared
    sys.stdout.write(table)
    left_out = next(iter(results["results"].values()))["left_out"]
    if left_out:
        sys.stderr.write(
            f"kb: {len(left_out)} question(s) left out of the metrics, no document judged "
            f"relevant (relevance > 0): {', '.join(left_out[:10])}"
            + (" ...\n" if len(left_out) > 10 else "\n")
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.report:
        Path(args.report).write_text(table, encoding="utf-8")
    if args.save_baseline:
        slim = as_baseline(results, "Regression baseline; refresh with kb eval ... --save-baseline")
        Path(args.save_baseline).write_text(baseline_text(slim), encoding="utf-8")
    if args.chart:
        from eval.charts import write_chart

        write_chart(results, Path(args.chart))
    if baseline is not None:
        try:
            failed = regressions(results, baseline, max_drop)
        except BaselineError as exc:
            raise UsageError(f"--baseline {args.baseline} {exc}") from None
        for line in baseline_notes(results, baseline):
            sys.stderr.write(f"kb: note: {line}\n")
        for line in failed:
            sys.stderr.write(f"regression: {line}\n")
        for line in question_changes(results, baseline):
            sys.stderr.write(f"kb: per question: {line}\n")
        if failed:
            return 1
        if metrics_compared(results, baseline):
            sys.stdout.write(f"no metric dropped by more than {max_drop} against {args.baseline}\n")
        else:
            sys.stdout.write(f"nothing gated against {args.baseline}: no metric to compare\n")
    return 0


def cmd_eval_all(args: argparse.Namespace) -> int:
    from eval.datasets import load_dataset
    from eval.report import retrieval_doc
    from eval.runner import SHARED_SETS, run_dataset

    settings = _settings(args)
    _note_local_eval(settings)
    datasets_dir = Path(args.datasets_dir) if args.datasets_dir else settings.datasets_dir
    cache_dir = Path(args.cache_dir) if args.cache_dir else settings.eval_cache_dir
    progress, close_bars = _progress_bars(args.quiet)
    sets = [(datasets_dir / name, split) for name, split in SHARED_SETS] + [(Path(args.kb), None)]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    check_output("--out", args.out)  # before hours of evaluation, not after
    for folder, split in sets:  # likewise every set: a missing last one lost the others' runs
        try:
            load_dataset(folder, split)
        except KBError as exc:
            raise UsageError(str(exc)) from None
    runs = []
    for folder, split in sets:
        modes = ["dense", "bm25", "hybrid"]
        runs.append(run_dataset(folder, split, modes, settings, cache_dir, progress))
        close_bars()
        sys.stderr.write(f"evaluated {folder.name}\n")
    Path(args.out).write_text(retrieval_doc(runs), encoding="utf-8")
    sys.stdout.write(f"wrote {args.out}\n")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    import difflib

    from api.security import KeyStore

    settings = _settings(args)
    groups = None
    if args.keys_command == "create" and args.groups is not None:
        groups = group_list(args.groups)  # before the store is opened or a key made
    if args.keys_command != "create" and not settings.database_url:
        if not Path(settings.keys_path).is_file():  # opening it would create an empty store
            raise KBError(
                f"no key store at {settings.keys_path} (no key was ever created there; "
                "is KB_KEYS_PATH set as for the API?)"
            )
    try:
        store = KeyStore.from_settings(settings)
    except sqlite3.Error as exc:
        raise KBError(f"cannot open the key store {settings.keys_path}: {exc}") from None
    try:
        if args.keys_command == "create":
            if groups is None and args.role != "admin":
                groups = ["all-agents"]
            key_id, key = store.create(args.role, groups)
            sys.stdout.write(f"{key}\n")
            sys.stderr.write(
                f"key {key_id} ({args.role}, groups: {','.join(groups or []) or 'all'}); it is "
                "shown only now: store it safely\n"
            )
        elif args.keys_command == "list":
            for k in store.listing():
                groups_text = "all" if k["groups"] is None else ",".join(k["groups"])
                state = "revoked" if k["revoked"] else "active"
                sys.stdout.write(
                    f"{k['key_id']}\t{k['role']}\t{groups_text}\t{k['created_at']}\t{state}\n"
                )
        else:
            listed = {k["key_id"]: k for k in store.listing()}
            if args.key_id not in listed:
                close = difflib.get_close_matches(args.key_id, list(listed), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else " (kb keys list shows them)"
                raise KBError(f"no key {args.key_id!r}{hint}")
            # Said, not silent: whoever revokes a leaked key needs to know it took effect.
            was = "was already revoked" if listed[args.key_id]["revoked"] else "is revoked"
            store.revoke(args.key_id)
            sys.stderr.write(
                f"key {args.key_id} ({listed[args.key_id]['role']}) {was}: the API refuses it "
                "and its signed links at their next request\n"
            )
        return 0
    finally:
        store.close()


def cmd_access(args: argparse.Namespace) -> int:
    import difflib

    from indexer import access

    settings = _settings(args)
    # --groups naming none (" , ", an unset shell variable) hid the document from every key
    # but an admin's, said as "[]": refused, as for `kb keys create`
    groups = group_list(args.groups) if args.access_command == "set" else []
    overrides = access.read_overrides(settings)
    if args.access_command == "set":
        known = access.indexed_documents(settings)
        if known is None and not args.force:
            where = "the database" if settings.database_url else settings.index_dir
            raise KBError(
                f"no index at {where} to check {args.doc_id!r} against (is --index-dir "
                "right?); --force sets the override anyway, ahead of the first build"
            )
        if known is not None and args.doc_id not in known and not args.force:
            near = difflib.get_close_matches(args.doc_id, sorted(known), n=3, cutoff=0.7)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise KBError(
                f"no document {args.doc_id!r} in the index{hint}; an override for it would "
                "never apply (--force sets it anyway, for a document not indexed yet)"
            )
        overrides[args.doc_id] = groups
    elif args.access_command == "clear":
        if args.doc_id not in overrides:
            near = difflib.get_close_matches(args.doc_id, sorted(overrides), n=3, cutoff=0.7)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise KBError(f"no access override for {args.doc_id!r}{hint}; nothing changed")
        del overrides[args.doc_id]
    else:
        if not overrides and access.indexed_documents(settings) is None:
            where = "the database" if settings.database_url else settings.index_dir
            raise KBError(f"no index at {where}, so no overrides to list (is --index-dir right?)")
        sys.stdout.write(json.dumps(overrides, indent=2) + "\n")
        return 0
    access.write_overrides(settings, overrides)
    now = overrides.get(args.doc_id)
    shown = f"groups {','.join(now)}" if now is not None else "groups from its metadata"
    sys.stdout.write(f"{args.doc_id}: {shown}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kb", description="Knowledge-base search for support agents."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index a folder of documents (default: settings' kb_dir)")
    p.add_argument("path", nargs="?", help="file or folder to index (default: KB_KB_DIR or ./kb)")
    p.add_argument("--index-dir", help="where to write the index (default: KB_INDEX_DIR)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--watch", action="store_true", help="keep running; re-index on file changes")
    p.add_argument("--allow-empty", action="store_true",
                   help="a folder left with no readable documents empties its index "
                   "(refused by default: an empty mount looks the same)")  # fmt: skip
    p.add_argument("--replace", action="store_true",
                   help="PATH becomes the whole knowledge base of the index, dropping documents "
                   "indexed from outside it (refused by default: indexing one edited file "
                   "would otherwise replace the rest)")  # fmt: skip
    p.add_argument("--poll", action="store_true",
                   help="--watch: poll the tree instead of the kernel's change events "
                   "(network shares, where those do not arrive)")  # fmt: skip
    p.add_argument("--interval", type=seconds(0, inclusive=False), default=0.2,
                   help="--watch --poll: seconds between polls")  # fmt: skip
    p.add_argument("--debounce", type=seconds(0, inclusive=True), default=0.1,
                   help="--watch: seconds of quiet before a re-index")  # fmt: skip
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("db", help="PostgreSQL backend: start/stop a local server, migrate")
    p.add_argument("action", choices=["start", "stop", "migrate"])
    p.add_argument("--url", help="migrate: the database (default: KB_DATABASE_URL)")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("ask", help="print cited passages for a question")
    p.add_argument("question")
    p.add_argument("--top-k", type=int, help="passages to show (default: KB_DEFAULT_TOP_K, 5)")
    p.add_argument("--filters", help='JSON object, e.g. \'{"markets": ["DE"]}\'')
    p.add_argument("--as-of", help="answer as of this date (YYYY-MM-DD)")
    p.add_argument(
        "--mode", choices=["dense", "bm25", "hybrid"], help="default: KB_SEARCH_MODE, hybrid"
    )
    p.add_argument("--context", type=int, default=0, help="neighbouring passages to show (0-3)")
    p.add_argument(
        "--include-superseded",
        action="store_true",
        help="also search versions not in force on that date (each is marked)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON: the API's fields, less search_id and link_params "
        "(nothing is logged or signed), with source as this machine's path",
    )
    p.add_argument("--index-dir")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="measure retrieval on a labelled dataset")
    p.add_argument("dataset", help="dataset folder (../shared/datasets/NAME or kb)")
    p.add_argument("--split", help="e.g. dev; without it queries.jsonl and qrels.tsv are read")
    p.add_argument(
        "--mode", choices=["default", "dense", "bm25", "hybrid", "all"], default="default"
    )
    p.add_argument("--json", help="write per-query and mean metrics as JSON here")
    p.add_argument("--report", help="write a Markdown table here")
    p.add_argument("--chart", help="write a PNG chart comparing modes here")
    p.add_argument(
        "--baseline",
        help="JSON of an earlier run (kb eval --json) of the same set, split and modes; "
        "exit 1 on a regression, 2 if it does not match this run",
    )
    p.add_argument(
        "--max-drop",
        type=float,
        help=f"with --baseline: largest allowed drop per metric, 0 <= D < 1 (default {MAX_DROP})",
    )
    p.add_argument(
        "--save-baseline",
        help="write this run as a baseline for --baseline: its metrics and, per question, the "
        "values the gate lists when questions move (small enough to commit)",
    )
    p.add_argument(
        "--cache-dir", help="indexes cached per corpus (default: KB_EVAL_CACHE_DIR, var/eval-cache)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("eval-all", help="every shared set x mode -> docs/retrieval.md")
    p.add_argument(
        "--datasets-dir", help="the shared sets (default: KB_DATASETS_DIR, ../shared/datasets)"
    )
    p.add_argument("--kb", default="kb", help="the labelled knowledge base (default: kb)")
    p.add_argument("--out", default="docs/retrieval.md", help="default: docs/retrieval.md")
    p.add_argument("--cache-dir", help="default: KB_EVAL_CACHE_DIR, var/eval-cache")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_eval_all)

    p = sub.add_parser("keys", help="manage API keys (stored hashed)")
    keys = p.add_subparsers(dest="keys_command", required=True)
    k = keys.add_parser("create", help="create a key and print it once")
    k.add_argument("--role", required=True, choices=["agent", "knowledge_manager", "admin"])
    k.add_argument(
        "--groups",
        help="access groups, comma-separated (default: all-agents; "
        "an admin without groups sees every document)",
    )
    k = keys.add_parser("revoke", help="revoke a key by its id")
    k.add_argument("key_id")
    keys.add_parser(
        "list", help="print each key's id, role, groups, creation time and state (not the key)"
    )
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("access", help="change a document's access groups without a rebuild")
    acc = p.add_subparsers(dest="access_command", required=True)
    a = acc.add_parser("set", help="override a document's access groups")
    a.add_argument("doc_id")
    a.add_argument("--groups", required=True, help="comma-separated access groups")
    a.add_argument("--force", action="store_true", help="also for a document not indexed yet")
    actions = [a, acc.add_parser("clear", help="back to the groups in the document's metadata")]
    actions[-1].add_argument("doc_id")
    actions.append(acc.add_parser("list", help="print the overrides"))
    p.add_argument("--index-dir")
    for a in actions:  # after the action too; SUPPRESS keeps one given before it
        a.add_argument("--index-dir", default=argparse.SUPPRESS)
    p.set_defaults(func=cmd_access)

    p = sub.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", help="address to listen on (default: KB_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=port, help="default: KB_API_PORT, 8000")
    p.add_argument(
        "--root-path",
        type=root_path,
        help="the path prefix a reverse proxy serves the API under (e.g. /kb), which it "
        "strips before passing requests on",
    )
    p.add_argument("--index-dir")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ui", help="run the Streamlit UI against the API")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--public",
        action="store_true",
        help="allow an address other than this machine's although the UI has no sign-in",
    )
    p.add_argument("--port", type=port, help="default: KB_UI_PORT, 8501")
    p.add_argument(
        "--api-url", help="the API to talk to (default: KB_API_URL, else 127.0.0.1:KB_API_PORT)"
    )  # no --index-dir: the UI reads no index, only the API it is pointed at
    p.set_defaults(func=cmd_ui)
    return parser


def settings_problems(exc: ValidationError) -> str:
    """Each bad setting as the environment variable that set it, e.g. ``KB_SEARCH_MODE: ...``."""
    return "; ".join(
        f"KB_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']} "
        f"(got {error.get('input')!r})"
        for error in exc.errors()
    )


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        get_settings()  # a bad KB_* variable stops every command here, named, not mid-way
    except ValidationError as exc:
        sys.stderr.write(f"kb: invalid configuration: {settings_problems(exc)}\n")
        return 2
    try:
        return args.func(args)
    except UsageError as exc:
        sys.stderr.write(f"kb: {exc}\n")
        return 2
    except EvalRunError as exc:
        sys.stderr.write(f"kb: {exc}\n")
        return 3
    except KBError as exc:
        sys.stderr.write(f"kb: {exc}\n")
        return 1
    except OSError as exc:  # a path the command cannot create, read or write: name it
        sys.stderr.write(f"kb: {os_error_text(exc)}\n")
        return 1
    except KeyboardInterrupt:  # the index being written is a new generation: never half-used
        sys.stderr.write("\nkb: interrupted\n")
        return 130
    except Exception as exc:
        refused = _database_refusal(exc)
        if refused is None:
            raise
        sys.stderr.write(f"kb: {refused}\n")
        return 1


def _database_refusal(exc: Exception) -> str | None:
    """One line for a database error any command can meet (a role without a privilege, a
    server gone away), else None: `kb ask`, `kb access` and `kb keys` printed a traceback."""
    if not type(exc).__module__.startswith("psycopg"):
        return None
    import psycopg

    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        message = exc.diag.message_primary or str(exc).strip()
        return (
            f"the database refused: {message}; docs/postgres.md lists the privileges each "
            "command needs"
        )
    if isinstance(exc, psycopg.OperationalError):
        return f"the database is unavailable: {str(exc).strip()}"
    return None


if __name__ == "__main__":
    raise SystemExit(main())
