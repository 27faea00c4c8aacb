"""What identifies a model: every file that shapes its vectors, checked before it is trusted.

A QA pass with other models found the weights alone fingerprinted a model: a changed pooling,
tokenizer or length, weights split over several files, or a Dense layer kept the old index, its
embedding cache and the eval cache in use, with vectors of another model for the questions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from indexer import embedding
from indexer.embedding import bundled_model_path, folder_digest, resolve_model
from indexer.errors import KBError, ModelIntegrityError
from indexer.onnx_backend import RECORD_FILE, OnnxEncoder, _verified, check_modules


def _copy_of_bundled(to: Path) -> Path:
    """The bundled model's files, the weights linked rather than copied (90 MB)."""
    source = bundled_model_path()
    shutil.copytree(source, to, ignore=shutil.ignore_patterns("model.safetensors"))
    (to / "model.safetensors").symlink_to(source / "model.safetensors")
    return to


def test_a_local_model_is_fingerprinted_by_every_file_that_shapes_its_vectors(
    tmp_path: Path,
) -> None:
    model = _copy_of_bundled(tmp_path / "mymodel")
    _, first = resolve_model(str(model))
    assert first.startswith("mymodel@sha256:")
    (model / "README.md").write_text("notes about the model")  # no vector changes
    assert resolve_model(str(model))[1] == first
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False,
                                   "pooling_mode_cls_token": True}))  # fmt: skip
    cls = resolve_model(str(model))[1]
    assert cls != first
    (model / "sentence_bert_config.json").write_text('{"max_seq_length": 64}')
    assert resolve_model(str(model))[1] not in (first, cls)


def test_weights_split_over_files_are_all_in_the_fingerprint(tmp_path: Path) -> None:
    model = tmp_path / "sharded"
    model.mkdir()
    (model / "config.json").write_text("{}")
    for n in (1, 2):
        (model / f"model-0000{n}-of-00002.safetensors").write_bytes(b"weights %d" % n)
    before = folder_digest(model)
    (model / "model-00002-of-00002.safetensors").write_bytes(b"other weights")
    assert folder_digest(model) != before


def test_a_bundled_package_with_another_pooling_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _copy_of_bundled(tmp_path / "bundled")
    monkeypatch.setattr(embedding, "bundled_model_path", lambda: model)
    assert resolve_model(embedding.BUNDLED_MODEL)[1].endswith(embedding.BUNDLED_SHA256)
    (model / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    with pytest.raises(ModelIntegrityError, match="1_Pooling/config.json"):
        resolve_model(embedding.BUNDLED_MODEL)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "KB_MODEL is empty"),
        ("/no/such/model", "no such directory"),
        ("./models/mine", "no such directory"),
    ],
)
def test_a_model_setting_that_names_nothing_is_one_clear_line(name: str, message: str) -> None:
    with pytest.raises(KBError, match=message):
        resolve_model(name)


def test_a_folder_without_a_model_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(KBError, match="holds no model"):
        resolve_model(str(tmp_path))


def test_a_hub_name_is_still_a_hub_name() -> None:
    assert resolve_model("sentence-transformers/all-mpnet-base-v2")[1] == (
        "hub:sentence-transformers/all-mpnet-base-v2"
    )


def test_the_int8_backend_refuses_a_model_with_a_layer_it_does_not_compute(
    tmp_path: Path,
) -> None:
    """A Dense layer after pooling was skipped: a 128-dimension index for a model whose
    vectors have 64."""
    model = _copy_of_bundled(tmp_path / "dense")
    check_modules(str(model))  # Transformer, Pooling, Normalize
    modules = json.loads((model / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense",
                       "type": "sentence_transformers.models.Dense"})  # fmt: skip
    (model / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(KBError, match="also has Dense: set KB_EMBED_BACKEND=torch"):
        check_modules(str(model))


@pytest.mark.parametrize(
    ("pooling", "cls"),
    [({"pooling_mode": "mean"}, False), ({"pooling_mode": "cls"}, True),
     ({"pooling_mode_mean_tokens": True}, False)],
)  # fmt: skip
def test_pooling_is_read_in_the_format_sentence_transformers_6_writes(
    pooling: dict, cls: bool, real_embedder, tmp_path: Path
) -> None:
    """Every model saved with the installed sentence-transformers was refused as pooling 'by
    another mode' than mean or CLS: it writes "pooling_mode": "mean"."""
    model_file = Path(real_embedder.onnx.model_file)
    folder = tmp_path / "export"
    shutil.copytree(model_file.parent, folder)
    (folder / "pooling.json").write_text(json.dumps(pooling))
    assert OnnxEncoder(folder / model_file.name).cls_pooling is cls
    (folder / "pooling.json").write_text('{"pooling_mode": "max"}')
    with pytest.raises(KBError, match="pools by max"):
        OnnxEncoder(folder / model_file.name)


def test_a_cached_export_whose_side_files_changed_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the .onnx file was checksummed: editing the cached pooling.json changed every
    question's vector without a word."""
    from indexer import onnx_backend

    def export(model_path: str, out: Path) -> dict:
        (out / onnx_backend.MODEL_FILE).write_bytes(b"graph")
        (out / "pooling.json").write_text('{"pooling_mode_mean_tokens": true}')
        (out / "tokenizer.json").write_text("{}")
        return {"operators": {}, "scales": "per batch"}

    monkeypatch.setattr(onnx_backend, "_export", export)
    made = onnx_backend.ensure_export("unused", "m@sha256:1", tmp_path)
    record = json.loads((made.parent / RECORD_FILE).read_text())
    assert set(record["files"]) == {"pooling.json", "tokenizer.json"}
    assert _verified(made.parent, "m@sha256:1")
    (made.parent / "pooling.json").write_text('{"pooling_mode_cls_token": true}')
    assert not _verified(made.parent, "m@sha256:1")
    again = onnx_backend.ensure_export("unused", "m@sha256:1", tmp_path)
    assert json.loads((again.parent / "pooling.json").read_text())["pooling_mode_mean_tokens"]


def test_an_index_of_the_other_backend_says_which_setting_to_change() -> None:
    """The message named the same model twice and never KB_EMBED_BACKEND."""
    from indexer.errors import IndexMismatchError
    from indexer.store import Manifest, check_model

    source = "all-MiniLM-L6-v2@sha256:53aa"
    built = Manifest("v1", "bundled", f"{source}+onnx-int8.4", 384, {}, {}, 1.0, "now")
    with pytest.raises(IndexMismatchError, match="onnx-int8 embedding backend, but "
                       "KB_EMBED_BACKEND is torch: set KB_EMBED_BACKEND=onnx-int8"):  # fmt: skip
        check_model(built, "bundled", source, "ix")
    with pytest.raises(IndexMismatchError, match="rebuild the index"):
        check_model(built, "other", "other@sha256:1", "ix")  # another model: rebuild
    check_model(built, "bundled", f"{source}+onnx-int8.4", "ix")


def test_a_cached_hub_model_is_fingerprinted_by_the_revision_on_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub model was fingerprinted by its name: a newer revision cached later (other
    weights, another vector size) was taken for the same model."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--acme--support-embedder"
    (repo / "refs").mkdir(parents=True)

    def cache(revision: str, weights: bytes) -> None:
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").write_text("{}")
        (snapshot / "model.safetensors").write_bytes(weights)
        (repo / "refs" / "main").write_text(revision)

    cache("a" * 40, b"first weights")
    path, first = resolve_model("acme/support-embedder")
    assert Path(path).name == "a" * 40 and first.startswith("acme/support-embedder@sha256:")
    cache("b" * 40, b"newer weights")
    path, newer = resolve_model("acme/support-embedder")
    assert Path(path).name == "b" * 40 and newer != first
    assert resolve_model("acme/not-cached")[1] == "hub:acme/not-cached"


def test_the_export_finds_the_transformer_of_the_classic_layout(tmp_path: Path) -> None:
    """A model saved in the classic layout (0_Transformer/, 1_Pooling/) failed to export with
    a traceback: its transformer is where modules.json says, not at the top."""
    from indexer.onnx_backend import _module_dir

    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "0_Transformer",
         "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
    ]))  # fmt: skip
    assert _module_dir(str(tmp_path), "Transformer", "") == tmp_path / "0_Transformer"
    assert _module_dir(str(tmp_path), "Pooling", "1_Pooling") == tmp_path / "1_Pooling"
    assert _module_dir(str(bundled_model_path()), "Transformer", "") == bundled_model_path()
