"""The onnx-int8 backend against sentence-transformers fp32, its export cache, pooled windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import Embedder
from indexer.errors import KBError
from indexer.onnx_backend import (
    CALIBRATION_FILE,
    CALIBRATION_SHA256,
    EXPORT_FORMAT,
    MODEL_FILE,
    RANGE_STEPS,
    RECORD_FILE,
    calibration_texts,
    drop_older_exports,
    export_dir,
    grid_range,
)

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


def test_int8_vector_depends_on_the_text_alone(real_embedder: Embedder) -> None:
    # With per-batch activation scales these moved by cosine ~0.01 with their batch mates: a
    # document's vectors changed when another was added, cached ones differed from fresh ones.
    longer = [s + " " + " ".join(SENTENCES) for s in SENTENCES[:2]]  # more padding, wider ranges
    alone = np.vstack([real_embedder.encode([s]) for s in SENTENCES])
    batched = real_embedder.encode(SENTENCES)
    mixed = real_embedder.encode(longer + SENTENCES[::-1])[len(longer) :][::-1]
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    np.testing.assert_allclose(mixed, alone, atol=1e-5)


def test_export_fixes_every_activation_scale(real_embedder: Embedder) -> None:
    import onnx

    folder = export_dir(real_embedder.cache_dir, real_embedder.source_fingerprint)
    record = json.loads((folder / RECORD_FILE).read_text())
    ops = {n.op_type for n in onnx.load(str(folder / MODEL_FILE)).graph.node}
    assert "DynamicQuantizeLinear" not in ops and "QuantizeLinear" in ops
    assert record["activation_scales"].startswith("fixed: 24 ")  # 18 matmuls, 6 attentions


def test_int8_weights_leave_the_kernels_no_room_to_saturate(real_embedder: Embedder) -> None:
    # Without VNNI, onnxruntime multiplies uint8 activations by int8 weights in int16 pairs,
    # which saturate past 32,767: full-range weights gave an AVX2 machine other vectors than an
    # AVX-512 one. With |weight| <= 64 a pair is at most 255 * 64 * 2 = 32,640: exact on both.
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    folder = export_dir(real_embedder.cache_dir, real_embedder.source_fingerprint)
    model = onnx.load(str(folder / MODEL_FILE))
    weights = [
        numpy_helper.to_array(t) for t in model.graph.initializer if t.data_type == TensorProto.INT8
    ]
    assert len(weights) >= 24  # 18 matmuls and 6 attentions, with their zero points
    assert all(-64 <= w.min() and w.max() <= 64 for w in weights)
    assert any(w.min() == -64 or w.max() == 64 for w in weights)  # 7 bits used, not fewer

    # ... and this machine's kernel is exact at those extremes.
    activations = np.full((4, 32), 255, np.uint8)
    extreme = np.tile(np.array([[64, -64]], np.int8), (32, 4))  # columns all +64 or all -64
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "g",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [4, 32])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [4, 8])],
        [numpy_helper.from_array(extreme, "B")],
    )  # fmt: skip
    tiny = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    tiny.ir_version = 8
    session = ort.InferenceSession(tiny.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"A": activations})[0]
    assert (got == activations.astype(np.int64) @ extreme.astype(np.int64)).all()


def test_calibrated_ranges_end_on_a_grid() -> None:
    # Another CPU's float kernels round calibration's extremes a last digit differently; the
    # grid absorbs that, so both machines write the same scales (and the same export file).
    low, high = -3.01013, 6.31237
    lowest, highest = grid_range(low, high)
    step = 2.0 ** np.floor(np.log2(high - low)) / RANGE_STEPS
    assert lowest <= low < lowest + step and highest - step < high <= highest
    assert (lowest / step).is_integer() and (highest / step).is_integer()
    assert grid_range(low * (1 + 1e-7), high * (1 - 1e-7)) == (lowest, highest)
    assert (highest - lowest) / (high - low) < 1.04
    assert grid_range(0.0, 0.0) == (0.0, 0.0)  # an activation that never moved stays put


def test_calibration_texts_are_the_pinned_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    # Editing calibration.txt changes every int8 vector: it must come with a new EXPORT_FORMAT
    # (and CALIBRATION_SHA256), or indexes of the old vectors would pass for current ones.
    texts = calibration_texts()
    assert len(texts) >= 200 and not any(t.startswith("#") for t in texts)
    monkeypatch.setattr("indexer.onnx_backend.CALIBRATION_SHA256", "0" * 64)
    with pytest.raises(KBError, match="CALIBRATION_SHA256"):
        calibration_texts()
    assert CALIBRATION_FILE.is_file() and len(CALIBRATION_SHA256) == 64


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


def test_export_keeps_per_batch_scales_when_calibration_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torch_embedder: Embedder
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("no calibration for this graph")

    monkeypatch.setattr("indexer.onnx_backend.fix_activation_scales", broken)
    embedder = Embedder(cache_dir=tmp_path)
    vectors = embedder.encode(SENTENCES)
    record = json.loads(
        (export_dir(tmp_path, embedder.source_fingerprint) / RECORD_FILE).read_text()
    )
    assert record["activation_scales"].startswith("per batch (calibration failed")
    assert (vectors * torch_embedder.encode(SENTENCES)).sum(axis=1).min() > 0.98


def test_exports_in_an_older_format_are_removed(tmp_path: Path) -> None:
    def export(name: str, fingerprint: str, fmt: object) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        record = {"source_fingerprint": fingerprint, "format": fmt}
        (folder / RECORD_FILE).write_text(json.dumps(record))
        return folder

    old = export("onnx-int8-old", "m@1", EXPORT_FORMAT - 1)
    kept = [
        export("onnx-int8-now", "m@1", EXPORT_FORMAT),
        export("onnx-int8-next", "m@1", EXPORT_FORMAT + 1),  # a newer version's
        export("onnx-int8-other", "other@2", EXPORT_FORMAT - 1),  # another model's
        export("onnx-int8-odd", "m@1", "two"),  # a damaged record
    ]
    (tmp_path / "onnx-int8-bare").mkdir()  # no record at all
    assert drop_older_exports(tmp_path, "m@1") == [old]
    assert not old.exists() and all(folder.is_dir() for folder in kept)
    assert (tmp_path / "onnx-int8-bare").is_dir()


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
    record = json.loads((folder / RECORD_FILE).read_text())
    assert record["fused"] == {}
    assert record["activation_scales"].startswith("fixed: ")  # the unfused graph's too
    assert sorted(p.name for p in folder.glob("*.onnx")) == [MODEL_FILE]
    assert (vectors * torch_embedder.encode(SENTENCES)).sum(axis=1).min() > 0.98
