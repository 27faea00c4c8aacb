"""kill -9 of the indexer at each phase: queries keep working with identical results, the next
run cleans up, and the lock does not outlive the dead writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.search import Searcher

REPO = Path(__file__).resolve().parent.parent
QUERIES = ["refund coins window", "escalate imminent risk", "seller proof of delivery"]

# A build in a child process, slowed down so each phase lasts long enough to be killed in,
# announcing each phase on stdout.
CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {repo!r})
from tests.conftest import FakeEmbedder
import indexer.store as store
from indexer.build import Progress, build_index

class Slow(FakeEmbedder):
    def encode(self, texts, show_progress=False):
        time.sleep(0.05)
        return super().encode(texts)

real_fsync = store._fsync
store._fsync = lambda p: (time.sleep(0.05), real_fsync(p))

def start(stage, total):
    print(stage, flush=True)
    time.sleep(0.3)

build_index(Path({kb!r}), Path({ix!r}), Slow(), max_tokens=60, min_tokens=8,
            progress=Progress(on_start=start))
print("done", flush=True)
"""


def _results(searcher: Searcher) -> list[list[str]]:
    return [[r.chunk_id for r in searcher.search(q, top_k=5).results] for q in QUERIES]


@pytest.mark.parametrize("phase", ["load", "chunk", "embed", "write"])
def test_kill_9_leaves_the_previous_generation_serving(
    phase: str, sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    before = _results(Searcher(ix, fake_embedder))
    (sample_kb / "policies" / "new-policy.md").write_text(
        "# New policy\n\nRefund coins within 3 days in every market.\n", encoding="utf-8"
    )

    failures: list[str] = []
    served: list[list[list[str]]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                served.append(_results(Searcher(ix, fake_embedder)))  # a fresh open each time
            except Exception as exc:  # any failure is what this test is about
                failures.append(repr(exc))

    thread = threading.Thread(target=client)
    thread.start()
    script = CHILD.format(repo=str(REPO), kb=str(sample_kb), ix=str(ix))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            if line.strip() == phase:
                os.kill(child.pid, signal.SIGKILL)
                break
            assert line.strip() != "done", f"build finished before phase {phase}"
        child.wait(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert failures == []
    assert served and all(r == before for r in served)
    assert _results(Searcher(ix, fake_embedder)) == before

    # The next run takes the lock the dead writer held, cleans up and publishes.
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    assert not list(ix.glob(".tmp-*"))
    after = Searcher(ix, fake_embedder)
    assert "policies/new-policy.md" in {d["doc_id"] for d in after.list_documents()}


def test_faiss_failing_to_write_is_an_oserror_naming_the_file(tmp_path: Path) -> None:
    """A full disk made faiss raise RuntimeError, and `kb index` printed a C++ traceback
    instead of its one-line error naming the file."""
    import faiss

    from indexer.ann import write_faiss

    target = tmp_path / "missing" / "vectors.faiss"
    with pytest.raises(OSError) as caught:
        write_faiss(faiss.IndexFlatIP(4), target)
    assert caught.value.filename == str(target)
    assert caught.value.strerror.startswith("could not write the index (could not open")
