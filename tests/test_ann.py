"""The approximate path for large indexes: candidates from IVF and BM25, then exact re-scoring.

With every inverted list probed and a few candidates per result, the IVF index's codes find the
true nearest passages, so the approximate path must reproduce the exact ranking; filters must
still fill top_k.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from indexer.ann import ANN_FILE, build_ivf, list_count, read_ivf, search_ivf, write_ivf
from indexer.build import index_documents
from indexer.documents import Document
from indexer.loaders.common import sections_from_headings
from indexer.loaders.markdown import parse as parse_markdown
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.store import current_generation
from tests.conftest import FakeEmbedder

WORDS = (
    "refund coins wallet payout creator gift live stream ban appeal strike minor safety report "
    "harassment spam account hacked password email phone verify age market region shop order "
    "return seller buyer parcel courier delay damaged invoice tax charge card bank transfer"
).split()


def _documents(n: int, seed: int = 3) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        paragraphs = [
            " ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "." for _ in range(4)
        ]
        text = f"# Policy {i}\n\n" + "\n\n".join(paragraphs) + "\n"
        market = ["us", "gb", "de", "fr"][i % 4]
        parsed = parse_markdown(text.encode("utf-8"))
        docs.append(
            Document(
                doc_id=f"docs/p{i}.md",
                title=f"Policy {i}",
                text=parsed.text,
                source=f"docs/p{i}.md",
                format="md",
                sections=sections_from_headings(parsed.text, parsed.headings),
                metadata={"markets": [market]},
            )
        )
    return docs


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, fake_embedder_module):
    docs = _documents(240)
    root = tmp_path_factory.mktemp("ann")
    options = {"max_tokens": 40, "min_tokens": 8}
    index_documents(docs, root / "exact", fake_embedder_module, **options)
    index_documents(docs, root / "ann", fake_embedder_module, ann_min_chunks=1, **options)
    return root / "exact", root / "ann"


class RotatedFakeEmbedder(FakeEmbedder):
    """The hashed bag-of-words vectors turned by a fixed rotation: the same similarities,
    spread over every dimension as a model's are. A hashed vector puts a short question's whole
    score on one or two of the lists' 4-bit codes, whose rounding then decides the order of
    passages a few hundredths apart; a model's vectors spread it over all of them."""

    fingerprint = "fake-hash-64-rotated@v1"
    rotation = np.linalg.qr(np.random.default_rng(0).normal(size=(64, 64)))[0].astype(np.float32)

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        return super().encode(texts) @ self.rotation


@pytest.fixture(scope="module")
def fake_embedder_module():
    return RotatedFakeEmbedder()


def test_ivf_written_only_past_the_threshold(indexes) -> None:
    exact, ann = indexes
    assert not (current_generation(exact) / ANN_FILE).exists()
    assert (current_generation(ann) / ANN_FILE).is_file()


@pytest.mark.parametrize("mode", ["dense", "hybrid", "bm25"])
def test_exhaustive_probe_reproduces_the_exact_ranking(indexes, fake_embedder_module, mode) -> None:
    exact_dir, ann_dir = indexes
    # Document support looks for second passages among the scored rows, which on the IVF path
    # are only the candidates (10 here): compared without it, everything else must match.
    # Likewise sentence windows: one can lift a passage that is not among the 10 nearest
    # passages the IVF index proposes. Passage similarity alone is what the lists index.
    # The lists hold 4-bit codes, whose order of near neighbours is approximate: 20 candidates
    # for 5 results (production: 400 for at most 50).
    plain = {"document_support": 0, "window_weight": 0}
    exact = Searcher(exact_dir, fake_embedder_module, Settings(**plain))
    n = exact.manifest.counts["chunks"]
    assert n > 20 * 20, "the index must be large enough for the IVF path to run"
    settings = Settings(ann_candidates=20, ann_nprobe=list_count(n), **plain)
    ann = Searcher(ann_dir, fake_embedder_module, settings)
    assert ann._ivf is not None
    for query in ["refund coins to the wallet", "hacked account password email", "courier delay"]:
        want = exact.search(query, top_k=5, mode=mode)
        got = ann.search(query, top_k=5, mode=mode)
        assert [r.chunk_id for r in got.results] == [r.chunk_id for r in want.results]
        assert [r.score for r in got.results] == pytest.approx([r.score for r in want.results])
        assert [r.highlight.text for r in got.results] == [r.highlight.text for r in want.results]
        assert got.answerable == want.answerable


def test_filtered_search_still_fills_top_k(indexes, fake_embedder_module) -> None:
    _exact, ann_dir = indexes
    ann = Searcher(ann_dir, fake_embedder_module, Settings(ann_candidates=10, ann_nprobe=2))
    response = ann.search("refund coins", top_k=8, filters={"markets": "gb"})
    assert len(response.results) == 8
    assert all(r.metadata["markets"] == ["gb"] for r in response.results)


def test_recall_grows_with_probes(indexes, fake_embedder_module) -> None:
    """Probing half the lists finds most of the exact top 10, probing one list fewer."""
    exact_dir, ann_dir = indexes
    # Passage similarity alone: what the inverted lists index (windows can lift others).
    exact = Searcher(exact_dir, fake_embedder_module, Settings(max_top_k=10, window_weight=0))
    nlist = list_count(exact.manifest.counts["chunks"])
    queries = ["refund coins to the wallet", "ban appeal strike", "shop order return"]
    want = [{r.chunk_id for r in exact.search(q, top_k=10, mode="dense").results} for q in queries]

    def recall(nprobe: int) -> float:
        ann = Searcher(
            ann_dir,
            fake_embedder_module,
            Settings(ann_candidates=10, ann_nprobe=nprobe, window_weight=0),
        )
        got = [{r.chunk_id for r in ann.search(q, top_k=10, mode="dense").results} for q in queries]
        return sum(len(w & g) / len(w) for w, g in zip(want, got, strict=True)) / len(queries)

    assert recall(nlist // 2) >= 0.7
    assert recall(1) < recall(nlist // 2)


def _ivf_of(index_dir: Path) -> tuple[int, np.ndarray, np.ndarray]:
    """(vectors held, centroids, codebooks) of a generation's IVF index."""
    import faiss

    stored = faiss.read_index(str(current_generation(index_dir) / ANN_FILE))
    ivf = faiss.extract_index_ivf(stored)
    codebooks = faiss.vector_to_array(stored.pq.centroids)
    return ivf.ntotal, ivf.quantizer.reconstruct_n(0, ivf.nlist), codebooks


def test_rebuild_reuses_centroids(fake_embedder_module, tmp_path: Path) -> None:
    docs = _documents(160)
    options = {"max_tokens": 40, "min_tokens": 8, "ann_min_chunks": 1}
    index_documents(docs, tmp_path / "ix", fake_embedder_module, **options)
    first_total, first_centroids, first_codebooks = _ivf_of(tmp_path / "ix")
    index_documents(docs[:-1], tmp_path / "ix", fake_embedder_module, **options)
    second_total, second_centroids, second_codebooks = _ivf_of(tmp_path / "ix")
    assert second_total < first_total
    assert np.array_equal(first_centroids, second_centroids)
    assert np.array_equal(first_codebooks, second_codebooks)


def test_lists_hold_half_a_byte_per_two_dimensions(fake_embedder_module, tmp_path: Path) -> None:
    """The IVF lists keep 4-bit codes of two dimensions each (candidates are re-scored exactly
    from the float vectors), not a second float copy of every passage."""
    import faiss

    options = {"max_tokens": 40, "min_tokens": 8, "ann_min_chunks": 1}
    index_documents(_documents(60), tmp_path / "ix", fake_embedder_module, **options)
    stored = faiss.read_index(str(current_generation(tmp_path / "ix") / ANN_FILE))
    ivf = faiss.extract_index_ivf(stored)  # a view: ``stored`` must stay referenced
    assert ivf.d == fake_embedder_module.dimension
    assert ivf.code_size == ivf.d // 4


def test_lists_of_8_bit_codes_from_an_older_version_still_serve_and_are_replaced(
    tmp_path: Path,
) -> None:
    """A generation written before 4-bit codes searches as before; the next build trains
    the current kind instead of reusing it."""
    import faiss

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(2000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    older = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(64), 64, 32, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    older.train(vectors)
    older.add(vectors)
    path = tmp_path / ANN_FILE
    write_ivf(older, path)
    assert list(search_ivf(read_ivf(tmp_path), vectors[5], 3, 32, None))[0] == 5
    rebuilt = build_ivf(vectors, path)
    assert isinstance(rebuilt, faiss.IndexIVFPQFastScan)
    assert list(search_ivf(rebuilt, vectors[5], 3, 32, None))[0] == 5


def test_candidates_are_the_exactly_nearest_of_what_the_codes_propose() -> None:
    """With the float vectors given, the rows kept are the k nearest by exact similarity among
    the REFINE x k the 4-bit codes propose, not the codes' own first k."""
    from indexer.ann import REFINE

    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_ivf(vectors)
    changed = 0
    for query in vectors[:20] + rng.normal(scale=0.3, size=(20, 64)).astype(np.float32):
        proposed = search_ivf(index, query, REFINE * 25, 16, None)
        kept = search_ivf(index, query, 25, 16, None, vectors)
        exact = proposed[np.argsort(-(vectors[proposed] @ query))[:25]]
        assert set(kept) == set(exact)
        changed += set(kept) != set(search_ivf(index, query, 25, 16, None))
    assert changed  # the refinement does change which rows come back


def test_the_searcher_has_candidates_refined_by_its_passage_vectors(
    indexes, fake_embedder_module, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The IVF path hands the float passage vectors to the lists' search, so the candidates
    kept are the exactly nearest of those the 4-bit codes propose."""
    import indexer.search as search_module

    seen = []

    def spy(index, vector, k, nprobe, allowed, vectors=None):
        seen.append(vectors)
        return search_ivf(index, vector, k, nprobe, allowed, vectors)

    monkeypatch.setattr(search_module, "search_ivf", spy)
    _exact, ann_dir = indexes
    ann = Searcher(ann_dir, fake_embedder_module, Settings(ann_candidates=10, ann_nprobe=4))
    assert ann.search("refund coins to the wallet", top_k=5, mode="dense").results
    assert len(seen) == 1 and seen[0] is ann._matrix
