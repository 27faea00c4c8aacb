"""The onnx-int8 backend against sentence-transformers fp32, its export cache, pooled windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import Embedder
from indexer.errors import KBError
from indexer.onnx_backend import EXPORT_FORMAT, MODEL_FILE, RECORD_FILE, export_dir

pytestmark = pytest.mark.integration

SENTENCES = [
    "Refunds for coins bought in the app are issued to the original payment method.",
    "A creator must be at least 18 years old to go LIVE and receive gifts.",
    "Escalate imminent self-harm risk to the safety queue within one hour.",
    "Parcels damaged in transit can be returned within 30 days for a full refund.",
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(backend="torch")


def test_int8_vectors_match_fp32(real_embedder: Embedder, torch_embedder: Embedder) -> None:
    fast = real_embedder.encode(SENTENCES)
    exact = torch_embedder.encode(SENTENCES)
    assert fast.shape == exact.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosines = (fast * exact).sum(axis=1)
    assert cosines.min() > 0.98
    # Same ranking of the sentences for a query: quantisation must not reorder what matters.
    query = "how old do you have to be to stream live"
    assert np.argmax(fast @ real_embedder.encode([query])[0]) == 1
    assert np.argmax(exact @ torch_embedder.encode([query])[0]) == 1


def test_backends_count_tokens_alike_and_differ_in_fingerprint(
    real_embedder: Embedder, torch_embedder: Embedder
) -> None:
    for text in SENTENCES + ["", "naïve café — 10% off!\n\n# Heading"]:
        assert real_embedder.count_tokens(text) == torch_embedder.count_tokens(text)
    assert real_embedder.max_tokens == torch_embedder.max_tokens == 256
    assert real_embedder.fingerprint == torch_embedder.fingerprint + f"+onnx-int8.{EXPORT_FORMAT}"


def test_pooled_spans_point_at_their_own_sentence(
    real_embedder: Embedder, torch_embedder: Embedder
) -> None:
    text = " ".join(SENTENCES)
    spans, start = [], 0
    for sentence in SENTENCES:
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 1
    for embedder in (real_embedder, torch_embedder):
        vectors, [pooled] = embedder.encode_with_spans([text], [spans])
        assert pooled.shape == (len(SENTENCES), 384)
        own = embedder.encode(SENTENCES)
        similarity = pooled @ own.T
        # Each pooled span is closest to the separately embedded sentence it covers.
        assert list(similarity.argmax(axis=1)) == list(range(len(SENTENCES)))
        np.testing.assert_allclose(vectors[0], embedder.encode([text])[0], atol=1e-5)


def test_export_is_cached_verified_and_redone_when_tampered(tmp_path: Path) -> None:
    first = Embedder(cache_dir=tmp_path)
    before = first.encode(SENTENCES[:1])
    folder = export_dir(tmp_path, first.source_fingerprint)
    record = json.loads((folder / RECORD_FILE).read_text())
    assert record["source_fingerprint"] == first.source_fingerprint
    assert record["fused"].get("Attention", 0) > 0  # the fast kernels, not the traced graph
    stamp = (folder / MODEL_FILE).stat().st_mtime_ns
    Embedder(cache_dir=tmp_path).encode(["again"])  # reuses the export
    assert (folder / MODEL_FILE).stat().st_mtime_ns == stamp
    with open(folder / MODEL_FILE, "r+b") as fh:  # flip bytes in the weights
        fh.seek(4096)
        fh.write(b"\x00" * 64)
    after = Embedder(cache_dir=tmp_path).encode(SENTENCES[:1])
    assert json.loads((folder / RECORD_FILE).read_text())["sha256"] == record["sha256"]
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(KBError, match="unknown embedding backend"):
        Embedder(backend="tensorrt")


def test_export_falls_back_to_the_traced_graph_when_fusing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torch_embedder: Embedder
) -> None:
    import onnxruntime.transformers.optimizer as optimizer

    def broken(*args, **kwargs):
        raise RuntimeError("no fusion for this graph")

    monkeypatch.setattr(optimizer, "optimize_model", broken)
    embedder = Embedder(cache_dir=tmp_path)
    vectors = embedder.encode(SENTENCES)
    folder = export_dir(tmp_path, embedder.source_fingerprint)
    assert json.loads((folder / RECORD_FILE).read_text())["fused"] == {}
    assert sorted(p.name for p in folder.glob("*.onnx")) == [MODEL_FILE]
    assert (vectors * torch_embedder.encode(SENTENCES)).sum(axis=1).min() > 0.98
