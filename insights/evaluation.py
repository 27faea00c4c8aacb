"""Evaluation runs for the evaluator page, over eval.runner / eval.report / eval.charts.

Runs use the serving embedder (the model the API answers with), so the evaluator measures what
agents get; indexes are cached per corpus and configuration like ``kb eval`` does.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eval.charts import write_chart
from eval.datasets import judgements_of, load_dataset, splits_of
from eval.report import markdown_table
from eval.runner import run_modes
from indexer.build import Progress
from indexer.errors import DatasetError, InvalidQueryError, KBError
from indexer.logs import warnings_kept
from indexer.settings import Settings

logger = logging.getLogger(__name__)

MODES = ("default", "dense", "bm25", "hybrid")


def available_datasets(kb_dir: Path, datasets_dir: Path) -> dict[str, dict[str, Any]]:
    """Labelled sets by name: the knowledge base's own and each folder of ``datasets_dir``."""
    found: dict[str, dict[str, Any]] = {}
    candidates = [("kb", Path(kb_dir))]
    if Path(datasets_dir).is_dir():
        for p in sorted(Path(datasets_dir).iterdir()):
            if not p.is_dir():
                continue
            if p.name == "kb":  # it replaced the knowledge base's own set, unseen
                if p.resolve() != Path(kb_dir).resolve():
                    logger.warning(
                        "%s is not listed: 'kb' names the knowledge base's own questions "
                        "(KB_KB_DIR); rename that folder to evaluate it",
                        p,
                    )
                continue
            candidates.append((p.name, p))
    for name, folder in candidates:
        # The files load_dataset reads, judged as it judges them: a split that re-words
        # another's questions (ConditionalQA's dev_with_scenario) shares that split's qrels.
        splits = [
            split
            for split in splits_of(folder)
            if judgements_of(folder, "qrels", split, ".tsv") is not None
        ]
        if splits:
            found[name] = {"name": name, "path": str(folder), "splits": splits}
    return found


def run(
    folder: Path,
    split: str | None,
    modes: list[str],
    embedder: Any,
    settings: Settings,
    cache_root: Path,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Metrics per mode, a markdown table, a PNG chart (base64), a per-query drill-down and
    ``warnings``, what the labelled set's reading warned of (``kb eval`` prints the same).

    ``progress`` hears each stage ("load", "index", the build's "chunk", "embed" and "write"
    when the set is not cached yet, "questions", "report") and each step of it; "questions"
    counts every question of every mode, as ``eval.runner.run_modes`` does.
    """
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InvalidQueryError(f"modes must be some of {', '.join(MODES)}", "modes")
    progress = progress or Progress()
    with _warnings_kept() as warned:
        progress.on_start("load", 1)
        try:
            dataset = load_dataset(folder, split)
        except DatasetError as exc:
            raise DatasetError(without_folder(str(exc), folder)) from None
        progress.on_start("index", 1)
        # What `kb eval` runs (long questions measured too), with the model the API serves.
        results = run_modes(dataset, modes, settings, cache_root, progress, embedder)
    progress.on_start("report", 1)  # per-query rows carry their evidence and ranks already
    with tempfile.TemporaryDirectory() as tmp:
        png = write_chart(results, Path(tmp) / "chart.png").read_bytes()
    results["table_md"] = markdown_table(results)
    results["chart_png"] = base64.b64encode(png).decode("ascii")
    results["warnings"] = [without_folder(" ".join(line.split()), folder) for line in warned]
    return results


def without_folder(text: str, folder: Path) -> str:
    """``text`` with the set's folder on the server named by the set's own name: the API
    shows no server path, and the file and line are what the evaluator needs."""
    return text.replace(str(folder), Path(folder).name)


def _warnings_kept() -> contextlib.AbstractContextManager[list[str]]:
    """The harness's warnings (eval.*) logged by this thread while it lasts: judgements of
    documents not in the corpus, evidence no passage holds, labels of unknown questions, long
    questions. ``kb eval`` prints them; a run on the API only logged them on the server, so
    the evaluator page showed metrics those labels had lowered without a word."""
    me = threading.get_ident()  # not another run's, nor a search's
    return warnings_kept("eval", lambda record: record.thread == me)


# -- evaluation runs as jobs -----------------------------------------------------------------

RUN_WORKERS = 1  # runs computed at once: each is CPU-bound and shares the cores with search
MAX_ACTIVE_RUNS = 4  # runs running or waiting their turn; more are refused (HTTP 429)
KEEP_FINISHED_S = 3600.0  # a finished run (and its result) is kept this long for its page
# (the API passes KB_EVAL_MAX_RUNS and KB_EVAL_KEEP_S, whose defaults these are)
KEEP_FINISHED = 8  # and only the newest this many: a shared set's result is megabytes
BUSY_RETRY_S = 60  # what a refused caller is told to wait
FLUSH_S = 0.5  # progress is written at most this often (and at each new stage)
RUNS_FILE = "runs.sqlite"

Execute = Callable[[str, str | None, list[str], Progress], dict[str, Any]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, run_key TEXT NOT NULL, dataset TEXT NOT NULL, split TEXT,
    modes TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,
    questions_done INTEGER NOT NULL DEFAULT 0, questions_total INTEGER,
    joined INTEGER NOT NULL DEFAULT 0, owner TEXT, created REAL NOT NULL,
    created_at TEXT NOT NULL, started_at TEXT, finished REAL, finished_at TEXT,
    error TEXT, error_type TEXT, result TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (run_key, status);
"""
ACTIVE = ("queued", "running")  # then "done", "failed" (an error) or "cancelled" (a caller's
# DELETE: kept apart from failed, so an evaluator or a script does not read it as a broken run)


class RunCancelledError(KBError):
    """A caller cancelled the run (DELETE /eval/runs/{id}) before it finished."""


CANCELLED = "cancelled by a caller before it finished"


class RunsBusyError(KBError):
    """Too many evaluation runs are running or queued; ``retry_after`` seconds to wait."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def run_key(dataset: str, split: str | None, modes: list[str]) -> str:
    """What makes two requests the same run: the set, the split and the modes in any order."""
    return json.dumps([dataset, split, sorted(set(modes))])


def _stamp(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


def failure_message(exc: BaseException) -> str:
    """What the evaluator is told: a domain error's own words; anything else by its type,
    the details being in the API's log (they may hold paths or internals)."""
    if isinstance(exc, KBError):
        return str(exc)
    return f"internal error ({type(exc).__name__}); the API's log has the details"


def process_token(pid: int) -> str | None:
    """Who a process is: its pid and, on Linux, its start time, so a pid reused after a
    restart (containers hand out the same small pids) is not taken for the old process;
    None when no such process runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return str(pid)
    return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"  # field 22: start time


def _alive(owner: str | None) -> bool:
    """Whether the process that claimed a run still runs (same machine: the API's workers)."""
    if not owner:
        return False
    try:
        pid = int(owner.split(":")[0])
    except ValueError:
        return False
    return process_token(pid) == owner


class EvalRuns:
    """Evaluation runs as jobs: started at once, computed on a background thread, polled.

    An evaluation takes a minute on kb/ and many on a shared set, longer than a page or an
    HTTP client should wait on one request. The runs live in a small SQLite file, not in
    memory, because the API serves from several worker processes: a run started through one
    is polled, joined and counted through any. Identical requests while one is queued or
    running join it; at most ``workers`` compute at once (across processes), at most
    ``max_active`` run or wait, and finished runs are deleted after ``keep_s`` seconds or
    beyond the newest ``keep_finished``, so the file stays small. A run whose process died
    is marked failed by the next caller that looks (cancelled, if a caller had cancelled it).
    """

    def __init__(
        self,
        path: Path,
        execute: Execute,
        *,
        workers: int = RUN_WORKERS,
        max_active: int | None = None,
        keep_s: float = KEEP_FINISHED_S,
        keep_finished: int = KEEP_FINISHED,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.execute = execute
        self.workers = workers
        self.max_active = MAX_ACTIVE_RUNS if max_active is None else max_active
        self.keep_s = keep_s
        self.keep_finished = keep_finished
        self._clock = clock
        self._ready = False
        self._init_lock = threading.Lock()

    # -- the store ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection for one step; ``write`` holds the write lock for the whole step,
        so a check and what follows from it (join, cap, claim) are one transaction."""
        with self._init_lock:
            if not self._ready:  # the API starts without touching disk: first use creates it
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as con:
                    con.execute("PRAGMA journal_mode=WAL")
                    con.executescript(SCHEMA)
                self._ready = True
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def _tidy(self, con: sqlite3.Connection) -> None:
        """Fail runs whose process is gone; delete finished runs past their keep."""
        rows = con.execute("SELECT run_id, owner, error_type FROM runs WHERE status = 'running'")
        for row in rows.fetchall():
            if not _alive(row["owner"]):
                logger.warning("evaluation run %s: its API process stopped", row["run_id"])
                stopped = KBError(
                    "the API process running this evaluation stopped (restarted or "
                    "killed) before it finished; start it again"
                )
                if row["error_type"] == RunCancelledError.__name__:  # it was on its way out
                    stopped = RunCancelledError(CANCELLED)
                self._finish_row(con, row["run_id"], None, stopped)
        now = self._clock()
        con.execute(
            "DELETE FROM runs WHERE finished IS NOT NULL AND (finished < ? OR run_id NOT IN "
            "(SELECT run_id FROM runs WHERE finished IS NOT NULL ORDER BY finished DESC "
            "LIMIT ?))",
            (now - self.keep_s, self.keep_finished),
        )

    def _finish_row(
        self,
        con: sqlite3.Connection,
        run_id: str,
        result_json: str | None,
        failure: BaseException | None,
    ) -> None:
        now = self._clock()
        status = "done" if failure is None else "failed"
        if isinstance(failure, RunCancelledError):
            status = "cancelled"
        con.execute(
            "UPDATE runs SET status = ?, finished = ?, finished_at = ?, error = ?, "
            "error_type = ?, result = ? WHERE run_id = ? AND status = 'running'",
            (
                status,
                now,
                _stamp(now),
                failure_message(failure) if failure else None,
                type(failure).__name__ if failure else None,
                None if failure else result_json,
                run_id,
            ),
        )

    # -- what the routes call -------------------------------------------------------------

    def submit(self, dataset: str, split: str | None, modes: list[str]) -> tuple[dict, bool]:
        """The run for this request (a view) and whether it joined one queued or running.

        Raises RunsBusyError when ``max_active`` runs are already running or queued.
        """
        key = run_key(dataset, split, modes)
        with self._db(write=True) as con:
            self._tidy(con)
            same = con.execute(
                "SELECT run_id FROM runs WHERE run_key = ? AND status IN (?, ?) "
                "ORDER BY created LIMIT 1",
                (key, *ACTIVE),
            ).fetchone()
            if same is not None:
                con.execute("UPDATE runs SET joined = joined + 1 WHERE run_id = ?", (same[0],))
                run_id, joined = same[0], True
            else:
                active = con.execute(
                    "SELECT COUNT(*) FROM runs WHERE status IN (?, ?)", ACTIVE
                ).fetchone()[0]
                if active >= self.max_active:
                    raise RunsBusyError(
                        f"{active} evaluation{'s are' if active != 1 else ' is'} already "
                        f"running or waiting, the most the API takes (it computes "
                        f"{self.workers} at a time): try again when one has finished, or "
                        "start the same set and modes as one of them to follow it",
                        BUSY_RETRY_S,
                    )
                run_id, joined, now = uuid.uuid4().hex, False, self._clock()
                con.execute(
                    "INSERT INTO runs (run_id, run_key, dataset, split, modes, status, stage, "
                    "created, created_at) VALUES (?, ?, ?, ?, ?, 'queued', 'queued', ?, ?)",
                    (run_id, key, dataset, split, json.dumps(list(modes)), now, _stamp(now)),
                )
        self._start_next()
        view = self.get(run_id)
        assert view is not None  # just written, and finished runs are kept keep_s
        return view, joined

    def get(self, run_id: str, with_result: bool = True) -> dict[str, Any] | None:
        """The run as the API shows it, or None when unknown or expired."""
        self._start_next()  # a queue left behind by a stopped process moves on
        with self._db() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            position = None
            if row is not None and row["status"] == "queued":
                position = (
                    con.execute(
                        "SELECT COUNT(*) FROM runs WHERE status IN (?, ?) AND created <= ?",
                        (*ACTIVE, row["created"]),
                    ).fetchone()[0]
                    - 1
                )
        return None if row is None else _view(row, position, with_result)

    def runs(self) -> list[dict[str, Any]]:
        """Every run still kept, newest first, without results."""
        self._start_next()
        with self._db() as con:
            rows = con.execute("SELECT * FROM runs ORDER BY created DESC, rowid DESC").fetchall()
        return [_view(row, None, with_result=False) for row in rows]

    def finished(self, run_id: str) -> dict[str, Any] | None:
        """The run if it has finished (whichever process computed it), None while it is
        queued or running; KBError when it was deleted first."""
        view = self.get(run_id)
        if view is None:
            raise KBError(f"evaluation run {run_id} was deleted before it finished")
        return None if view["status"] in ACTIVE else view

    def wait(self, run_id: str, poll_s: float = 0.2) -> dict[str, Any]:
        """The run once it has finished, this thread sleeping between looks (the API's
        waiting route looks on its event loop instead)."""
        while (view := self.finished(run_id)) is None:
            time.sleep(poll_s)
        return view

    def cancel(self, run_id: str) -> dict[str, Any] | None:
        """Stop a run: a queued one at once, a running one at its next progress step (within
        about FLUSH_S), freeing the one computing slot. Everyone following it sees it
        ``cancelled`` (a running one stays ``running``, its error already saying so, until it
        stops). A finished run is left as it is. None when unknown or expired."""
        with self._db(write=True) as con:
            now = self._clock()
            con.execute(
                "UPDATE runs SET status = 'cancelled', finished = ?, finished_at = ?, error = ?, "
                "error_type = ? WHERE run_id = ? AND status = 'queued'",
                (now, _stamp(now), CANCELLED, RunCancelledError.__name__, run_id),
            )
            con.execute(  # the computing thread sees this mark and stops (_Reporter.flush)
                "UPDATE runs SET error = ?, error_type = ? WHERE run_id = ? AND status = 'running'",
                (CANCELLED, RunCancelledError.__name__, run_id),
            )
        self._start_next()
        return self.get(run_id)

    # -- computing ------------------------------------------------------------------------

    def _start_next(self) -> None:
        """Claim the oldest queued run while fewer than ``workers`` run, and compute it here."""
        with self._db(write=True) as con:
            self._tidy(con)
            running = con.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[
                0
            ]
            if running >= self.workers:
                return
            row = con.execute(
                "SELECT run_id, dataset, split, modes FROM runs WHERE status = 'queued' "
                "ORDER BY created, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return
            now = self._clock()
            con.execute(
                "UPDATE runs SET status = 'running', stage = 'starting', owner = ?, "
                "started_at = ? WHERE run_id = ?",
                (process_token(os.getpid()), _stamp(now), row["run_id"]),
            )
        request = (row["dataset"], row["split"], json.loads(row["modes"]))
        threading.Thread(
            target=self._compute,
            args=(row["run_id"], request),
            name=f"kb-eval-{row['run_id'][:8]}",
            daemon=True,
        ).start()

    def _compute(self, run_id: str, request: tuple[str, str | None, list[str]]) -> None:
        progress = _Reporter(self, run_id)
        result: str | None = None
        failure: BaseException | None = KBError("the evaluation was interrupted")
        try:
            result = json.dumps(self.execute(*request, progress.progress), allow_nan=False)
            failure = None
        except Exception as exc:  # the run fails; the API and the next run go on
            failure = exc
            if not isinstance(exc, KBError):
                logger.exception("evaluation run %s failed", run_id)
        finally:
            with contextlib.suppress(RunCancelledError):
                progress.flush()
            with self._db(write=True) as con:
                self._finish_row(con, run_id, result, failure)
            self._start_next()


class _Reporter:
    """A run's progress, written to the store at each stage and at most every FLUSH_S."""

    def __init__(self, runs: EvalRuns, run_id: str) -> None:
        self.runs, self.run_id = runs, run_id
        self.stage, self.done, self.total = "starting", 0, 0
        self.questions_done, self.questions_total = 0, None
        self.flushed = 0.0
        self.progress = Progress(on_start=self.on_start, on_advance=self.on_advance)

    def on_start(self, stage: str, total: int) -> None:
        self.stage, self.done, self.total = stage, 0, total
        if stage == "questions":
            self.questions_total = total
        self.flush()

    def on_advance(self, n: int) -> None:
        self.done += n
        if self.stage == "questions":
            self.questions_done += n
        if time.monotonic() - self.flushed >= FLUSH_S:
            self.flush()

    def flush(self) -> None:
        """Write the progress; stop the run here if a caller cancelled it."""
        self.flushed = time.monotonic()
        with self.runs._db(write=True) as con:
            con.execute(
                "UPDATE runs SET stage = ?, done = ?, total = ?, questions_done = ?, "
                "questions_total = ? WHERE run_id = ? AND status = 'running'",
                (self.stage, self.done, self.total, self.questions_done,
                 self.questions_total, self.run_id),
            )  # fmt: skip
            mark = con.execute(
                "SELECT error_type FROM runs WHERE run_id = ? AND status = 'running'",
                (self.run_id,),
            ).fetchone()
        if mark is not None and mark[0] == RunCancelledError.__name__:
            raise RunCancelledError(CANCELLED)


def _view(row: sqlite3.Row, position: int | None, with_result: bool) -> dict[str, Any]:
    """A stored run as the API shows it."""
    return {
        "run_id": row["run_id"],
        "status": row["status"],
        "dataset": row["dataset"],
        "split": row["split"],
        "modes": json.loads(row["modes"]),
        "progress": {
            "stage": row["stage"],
            "done": row["done"],
            "total": row["total"],
            "questions_done": row["questions_done"],
            "questions_total": row["questions_total"],
        },
        "queue_position": position,
        "joined": row["joined"],
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "error": row["error"],
        "error_type": row["error_type"],
        "result": json.loads(row["result"]) if with_result and row["result"] else None,
    }
