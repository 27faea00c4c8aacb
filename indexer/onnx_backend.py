"""ONNX Runtime with int8 quantisation: the fast embedding backend for 2-core CPUs.

The model is exported once from its sentence-transformers files (torch is needed only then) and
cached under ``cache_dir/<fingerprint digest>/``; a small JSON file beside it records what it
was made from and its sha256, which is checked on every load. Before quantising, onnxruntime's
transformer optimizer fuses each layer's attention, GELU and layer norms into single kernels
(measured on all-MiniLM-L6-v2 against the unfused int8 export, side by side: 1.2-1.3x faster on
batches of passages, ~1.4x on a single query, cosine to fp32 unchanged at 0.994).

onnxruntime's dynamic quantisation gives each layer's activations one scale per batch, so a
text's vector would depend on the texts embedded with it. The export therefore fixes every
activation scale once, from calibration texts run one at a time (:func:`fix_activation_scales`):
a text's vector then depends on the text alone, at the same speed and the same distance to fp32.
Its weights use 7 of their 8 bits, so that the integer products are exact on every x86 kernel
(without VNNI, onnxruntime's uint8 x int8 kernel saturates), and the calibrated ranges end on a
grid: the same model gives the same vectors on an AVX2 machine as on an AVX-512 one.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import KBError
from indexer.files import sha256_file

logger = logging.getLogger(__name__)


class _Advice(logging.Filter):
    """Drops onnxruntime's "Please consider to run pre-processing" line: the export fuses
    the graph itself, and the line, on the root logger, read as a knowledge-base warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Please consider to run pre-processing")


@contextlib.contextmanager
def _without_advice() -> Iterator[None]:
    advice, root = _Advice(), logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


# Bump when the export recipe changes: old exports are then rebuilt, and since the format is
# part of the embedder's fingerprint, indexes and cached vectors made with the old one are too.
# 2: attention, GELU and layer norms fused before quantisation
# 3: activation scales fixed by calibration (CALIBRATION_FILE), no longer computed per batch
# 4: 7-bit weights and calibrated ranges on a grid, so every x86 CPU computes the same vectors
EXPORT_FORMAT = 4
# A calibrated range ends on a multiple of 1/RANGE_STEPS of the power of two below its width:
# a float that another CPU rounds differently does not move it (it widens a range by <3%).
RANGE_STEPS = 64
CALIBRATION_FILE = Path(__file__).with_name("calibration.txt")
# Its texts decide every int8 vector: a changed file needs a new EXPORT_FORMAT (tests check it).
CALIBRATION_SHA256 = "2bfbc853fa2263e31279efc868cf8691adac6db7e167779ad72e0e4a016c1375"
MODEL_FILE = "model.int8.onnx"
FUSED_FILE = "model.fused.onnx"  # intermediate: fp32 with fused layers
RECORD_FILE = "export.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Encoder families whose layers onnxruntime's "bert" fuser knows; others are quantised unfused.
FUSABLE = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "electra"})


def export_dir(cache_dir: Path, fingerprint: str) -> Path:
    """Where the export of one source model lives: one directory per source fingerprint."""
    digest = hashlib.sha256(f"{fingerprint}\x00{EXPORT_FORMAT}".encode()).hexdigest()[:16]
    return Path(cache_dir) / f"onnx-int8-{digest}"


# The sentence-transformers modules the int8 encoder computes: the transformer, its pooling and
# the normalisation. A Dense layer after pooling was skipped, and vectors of another size
# than the model's came out without a word.
ONNX_MODULES = ("Transformer", "Pooling", "Normalize")


def check_modules(model_path: str) -> None:
    """KBError when the model has a module the int8 encoder does not compute."""
    modules = _read_json(Path(model_path) / "modules.json")
    kinds = [
        str(m.get("type", "")).rsplit(".", 1)[-1]
        for m in (modules if isinstance(modules, list) else [])
        if isinstance(m, dict)
    ]
    extra = [kind for kind in kinds if kind not in ONNX_MODULES]
    if extra:
        raise KBError(
            f"the onnx-int8 backend computes {', '.join(ONNX_MODULES)} only, and this model "
            f"also has {', '.join(extra)}: set KB_EMBED_BACKEND=torch"
        )


def ensure_export(model_path: str, fingerprint: str, cache_dir: Path) -> Path:
    """The verified int8 ONNX file for a model, exporting it first if it is missing or bad.

    Concurrent processes (an API starting while ``kb index`` runs) take a lock, so one exports
    and the others wait and reuse it.
    """
    target = export_dir(cache_dir, fingerprint)
    if _verified(target, fingerprint):
        return target / MODEL_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".export.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _verified(target, fingerprint):
            return target / MODEL_FILE
        logger.info("exporting %s to int8 ONNX (once; cached in %s)", model_path, target)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-export-", dir=target.parent))
        try:
            made = _export(model_path, staging)
            record = {
                "format": EXPORT_FORMAT,
                "source_fingerprint": fingerprint,
                "sha256": sha256_file(staging / MODEL_FILE),
                "files": {
                    path.name: sha256_file(path)
                    for path in sorted(staging.iterdir())
                    if path.name in SIDE_FILES
                },
                "quantisation": "int8 activations, 7-bit per-channel weights (onnxruntime)",
                "fused": made["operators"],
                "activation_scales": made["scales"],
            }
            (staging / RECORD_FILE).write_text(json.dumps(record, indent=2))
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        drop_older_exports(target.parent, fingerprint)
    return target / MODEL_FILE


def drop_older_exports(cache_dir: Path, fingerprint: str) -> list[Path]:
    """Remove exports of the same source model in an older format: no code of this version
    reads them again (~23 MB each). Newer formats, other models and damaged records are left.
    """
    removed = []
    for folder in sorted(Path(cache_dir).glob("onnx-int8-*")):
        try:
            record = json.loads((folder / RECORD_FILE).read_text())
            older = (
                record.get("source_fingerprint") == fingerprint
                and int(record.get("format", EXPORT_FORMAT)) < EXPORT_FORMAT
            )
        except (OSError, ValueError, TypeError):
            continue
        if older:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
            logger.info("removed %s, an export in an older format", folder)
    return removed


SIDE_FILES = ("tokenizer.json", "sentence_bert_config.json", "pooling.json")


def _verified(target: Path, fingerprint: str) -> bool:
    try:
        record = json.loads((target / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return False
    if record.get("format") != EXPORT_FORMAT or record.get("source_fingerprint") != fingerprint:
        return False
    if sha256_file(target / MODEL_FILE) != record.get("sha256"):
        logger.warning("cached ONNX export %s fails its checksum; exporting again", target)
        return False
    # The side files (tokenizer, length, pooling) shape vectors too; exports recorded before
    # their sums were kept are checked by the model file alone.
    for name, digest in (record.get("files") or {}).items():
        if not (target / name).is_file() or sha256_file(target / name) != digest:
            logger.warning("cached ONNX export %s: %s fails its checksum; exporting again",
                           target, name)  # fmt: skip
            return False
    return True


def _export(model_path: str, out: Path) -> dict[str, Any]:
    """Trace the transformer to ONNX (fp32), fuse its layers, quantise weights to int8, then fix
    the activation scales.

    Returns ``operators``, the fused operator counts (empty when the model's graph could not be
    fused: it is then quantised as traced, slower but the same vectors), and ``scales``, what
    became of the activation scales.
    """
    transformer = str(_module_dir(model_path, "Transformer", ""))
    try:
        import onnx
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError as exc:  # pragma: no cover - both ship with kb-assistant
        raise KBError(f"exporting to ONNX needs torch, transformers, onnxruntime: {exc}") from exc

    hf_logging.disable_progress_bar()  # "Loading weights" showed through `kb eval -q`

    class _Hidden(torch.nn.Module):
        """Keyword call of the transformer: its positional signature differs across versions."""

        def __init__(self, base: torch.nn.Module, names: tuple[str, ...]):
            super().__init__()
            self.base, self.names = base, names

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.base(**dict(zip(self.names, tensors, strict=True))).last_hidden_state

    try:
        tokenizer = AutoTokenizer.from_pretrained(transformer)
        # Eager attention traces to the plain MatMul/Softmax pattern the fuser recognises
        # (scaled_dot_product_attention does not); the vectors are the same.
        base = AutoModel.from_pretrained(transformer, attn_implementation="eager").eval()
    except OSError as exc:
        raise KBError(f"cannot export {model_path!r} to ONNX: {exc}") from exc
    sample = tokenizer(["an example", "a second, longer example text"], padding=True,
                       return_tensors="pt")  # fmt: skip
    names = tuple(n for n in INPUTS if n in sample)
    axes = {n: {0: "batch", 1: "tokens"} for n in (*names, "last_hidden_state")}
    fp32 = out / "model.fp32.onnx"
    with torch.no_grad(), contextlib.redirect_stderr(open(os.devnull, "w")):  # noqa: SIM115
        torch.onnx.export(
            _Hidden(base, names),
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=list(names),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )

    def quantise(source: Path) -> None:
        with _without_advice():
            _quantise(source)

    def _quantise(source: Path) -> None:
        quantize_dynamic(
            str(source),
            str(out / MODEL_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # 7-bit weights: on CPUs without VNNI, onnxruntime multiplies uint8 activations by
            # int8 weights in int16 pairs that saturate past 32,767 (255 x 127 x 2 does), so
            # an AVX2 machine computed other vectors than an AVX-512 one (kb/ evidence_hit@1
            # 0.707 against 0.719). 255 x 64 x 2 fits: the products are exact everywhere.
            reduce_range=True,
            # fused ops come from onnxruntime's own domain, which shape inference does not type
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )

    source, fused = _fuse(fp32, base.config)
    try:
        quantise(source)
    except Exception as exc:  # a fused graph the quantiser cannot take: quantise the traced one
        if source == fp32:
            raise
        logger.warning("could not quantise the fused graph (%s); quantising it unfused", exc)
        source, fused = fp32, {}
        quantise(source)
    for name in (fp32.name, FUSED_FILE):  # only the quantised model is kept
        (out / name).unlink(missing_ok=True)
    limit = _max_tokens(transformer)
    try:
        fixed = fix_activation_scales(
            out / MODEL_FILE,
            calibration_texts(),
            lambda text: {n: a.astype(np.int64) for n, a in tokenizer(
                text, truncation=True, max_length=limit, return_tensors="np"
            ).items() if n in names},
        )  # fmt: skip
        scales = f"fixed: {fixed} calibrated on {CALIBRATION_FILE.name}"
    except Exception as exc:  # still a working model, only batch-dependent: say so, keep it
        logger.warning("could not fix the activation scales (%s); they stay per batch", exc)
        scales = f"per batch (calibration failed: {exc})"
    for name in ("tokenizer.json", "sentence_bert_config.json"):
        if (Path(transformer) / name).is_file():
            shutil.copy2(Path(transformer) / name, out / name)
    pooling = _module_dir(model_path, "Pooling", "1_Pooling") / "config.json"
    if pooling.is_file():
        shutil.copy2(pooling, out / "pooling.json")
    return {"operators": fused, "scales": scales}


def _module_dir(model_path: str, kind: str, default: str) -> Path:
    """The folder of a model's first ``kind`` module as its modules.json names it: the
    classic layout keeps the transformer in 0_Transformer/ (its export failed with a
    traceback), the current one at the top."""
    modules = _read_json(Path(model_path) / "modules.json")
    for module in modules if isinstance(modules, list) else []:
        if isinstance(module, dict) and str(module.get("type", "")).endswith(kind):
            return Path(model_path) / str(module.get("path") or "")
    return Path(model_path) / default


def _max_tokens(model_path: str) -> int:
    config = _read_json(Path(model_path) / "sentence_bert_config.json")
    return int(config.get("max_seq_length") or 512)


def calibration_texts() -> list[str]:
    """The texts that fix the int8 activation scales, checked against ``CALIBRATION_SHA256``."""
    data = CALIBRATION_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != CALIBRATION_SHA256:
        raise KBError(f"{CALIBRATION_FILE} does not match CALIBRATION_SHA256")
    lines = data.decode("utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def fix_activation_scales(
    model_file: Path, texts: list[str], feeds: Callable[[str], dict[str, np.ndarray]]
) -> int:
    """Replace each ``DynamicQuantizeLinear`` of a dynamically quantised graph by a
    ``QuantizeLinear`` whose scale and zero point come from ``texts``; returns how many.

    Dynamic quantisation takes each activation's range from the whole batch, so a text's int8
    vector moved (cosine ~0.99) with its batch mates: a document's vectors changed when
    another document was added, and cached vectors differed from freshly computed ones. A
    fixed range makes the vector a function of the text alone. The range of each activation
    is its minimum and maximum over the calibration texts, each run alone (batch mates would
    otherwise make the calibration itself depend on the order), widened to include 0 as
    onnxruntime's own uint8 scheme does and out to a grid (:func:`grid_range`); values beyond it
    saturate. On all-MiniLM-L6-v2 the
    vectors are as close to fp32 as the dynamic ones and as fast (bench/PROFILE.md).
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(model_file))
    dynamic = [n for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"]
    if not dynamic:
        return 0
    watched = list(dict.fromkeys(n.input[0] for n in dynamic))
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in watched:
        probe.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    low = dict.fromkeys(watched, 0.0)
    high = dict.fromkeys(watched, 0.0)
    for text in texts:
        for name, values in zip(watched, session.run(watched, feeds(text)), strict=True):
            low[name] = min(low[name], float(values.min()))
            high[name] = max(high[name], float(values.max()))
    nodes = []
    for node in model.graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        x, (y, y_scale, y_zero) = node.input[0], node.output
        lowest, highest = grid_range(low[x], high[x])
        scale = max((highest - lowest) / 255.0, 1e-8)
        zero = int(np.clip(np.rint(-lowest / scale), 0, 255))
        model.graph.initializer.extend([
            numpy_helper.from_array(np.array(scale, np.float32), y_scale),
            numpy_helper.from_array(np.array(zero, np.uint8), y_zero),
        ])  # fmt: skip
        nodes.append(
            helper.make_node("QuantizeLinear", [x, y_scale, y_zero], [y], name=f"{node.name}_fixed")
        )
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    if _matmuls_to_float(model.graph) and not any(
        o.domain == "com.microsoft" for o in model.opset_import
    ):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(model_file))
    return len(dynamic)


def grid_range(low: float, high: float) -> tuple[float, float]:
    """``[low, high]`` widened to the nearest multiples of a grid step (1/RANGE_STEPS of the
    power of two below its width), so that calibration run on another CPU, whose float kernels
    round a last digit differently, fixes the same scales and the export is the same file."""
    width = high - low
    if width <= 0:
        return low, high
    step = 2.0 ** np.floor(np.log2(width)) / RANGE_STEPS
    return float(np.floor(low / step) * step), float(np.ceil(high / step) * step)


def _matmuls_to_float(graph: Any) -> int:
    """Fuse each ``MatMulInteger -> Cast -> Mul(a_scale * b_scale)`` into one
    ``MatMulIntegerToFloat``; returns how many.

    onnxruntime fuses that chain itself when the scales are computed per batch, but not once
    they are constants: left apart, the three steps ran at the dynamic graph's speed, fused
    about 5% faster (bench/PROFILE.md).
    """
    from onnx import helper

    made_by = {out: node for node in graph.node for out in node.output}
    used_by: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            used_by.setdefault(name, []).append(node)

    def only_user(name: str, op_type: str) -> Any:
        users = used_by.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    replaced: dict[int, Any] = {}  # id of the chain's last node -> the fused node
    gone: set[int] = set()
    for matmul in graph.node:
        if matmul.op_type != "MatMulInteger" or len(matmul.input) != 4:
            continue
        cast = only_user(matmul.output[0], "Cast")
        mul = cast and only_user(cast.output[0], "Mul")
        if not mul:
            continue
        other = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
        scales = made_by.get(other)
        if scales is None or scales.op_type != "Mul" or len(used_by[other]) != 1:
            continue
        a, b, a_zero, b_zero = matmul.input
        quantised = made_by.get(a)  # the activation's QuantizeLinear names its scale
        if quantised is None or quantised.op_type != "QuantizeLinear":
            continue
        a_scale = quantised.input[1]
        if a_scale not in scales.input:
            continue
        b_scale = next(i for i in scales.input if i != a_scale)
        replaced[id(mul)] = helper.make_node(
            "MatMulIntegerToFloat",
            [a, b, a_scale, b_scale, a_zero, b_zero],
            [mul.output[0]],
            name=f"{matmul.name}_to_float",
            domain="com.microsoft",
        )
        gone.update(id(n) for n in (matmul, cast, mul, scales))
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) in replaced or id(n) not in gone]
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replaced)


def _fuse(fp32: Path, config: Any) -> tuple[Path, dict[str, int]]:
    """The fp32 graph with BERT-style layers fused, or the traced one when that fails."""
    heads = getattr(config, "num_attention_heads", 0)
    hidden = getattr(config, "hidden_size", 0)
    if getattr(config, "model_type", "") not in FUSABLE or not heads or not hidden:
        return fp32, {}
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        model = optimize_model(
            str(fp32), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1
        )
        target = fp32.with_name(FUSED_FILE)
        model.save_model_to_file(str(target))
        counts = {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}
    except Exception as exc:  # the fuser is an optimisation: any failure keeps the traced graph
        logger.warning("could not fuse %s (%s); quantising it unfused", fp32, exc)
        return fp32, {}
    return target, counts


class OnnxEncoder:
    """Token states from the int8 model, pooled the way the sentence-transformers model pools."""

    def __init__(self, model_file: Path, threads: int = 0):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = model_file.parent
        self.model_file = model_file
        if not (folder / "tokenizer.json").is_file():
            raise KBError(
                f"{folder} has no tokenizer.json: the ONNX backend needs a fast tokenizer"
            )
        config = _read_json(folder / "sentence_bert_config.json")
        self.max_tokens = int(config.get("max_seq_length") or 512)
        pooling = _read_json(folder / "pooling.json")
        # sentence-transformers 6 writes "pooling_mode": "mean"; older ones one flag per mode
        mode = str(pooling.get("pooling_mode") or "").lower()
        self.cls_pooling = bool(pooling.get("pooling_mode_cls_token")) or mode == "cls"
        mean = bool(pooling.get("pooling_mode_mean_tokens")) or mode == "mean"
        if pooling and not (self.cls_pooling or mean):
            raise KBError(
                f"the ONNX backend pools by mean or CLS only, and this model pools by "
                f"{mode or 'another mode'}: set KB_EMBED_BACKEND=torch"
            )
        self._counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    @functools.cached_property
    def export_sha256(self) -> str | None:
        """The sha256 its export recorded (and that was checked when it loaded); read once."""
        return _read_json(self.model_file.parent / RECORD_FILE).get("sha256")

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=True).ids)

    def unknown_share(self, text: str) -> float:
        """Share of ``text``'s tokens the tokenizer has no piece for (its unknown token)."""
        ids = self._counter.encode(text, add_special_tokens=False).ids
        unk = self._unknown_id
        return sum(i == unk for i in ids) / len(ids) if ids and unk is not None else 0.0

    @functools.cached_property
    def _unknown_id(self) -> int | None:
        """The tokenizer's unknown token (WordPiece's [UNK], SentencePiece's <unk>), if any."""
        found = (self._counter.token_to_id(t) for t in ("[UNK]", "<unk>", "<UNK>"))
        return next((i for i in found if i is not None), None)

    def encode(
        self,
        texts: list[str],
        batch_size: int,
        spans: list[list[tuple[int, int]]] | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Normalised text vectors and, per text, normalised vectors of its character spans.

        A span vector is the mean of the text's own contextual token states over the span
        ("late chunking"): sentence windows cost no extra model pass.
        """
        out = np.zeros((len(texts), self.dimension), np.float32)
        span_out: list[np.ndarray] = [np.zeros((0, self.dimension), np.float32)] * len(texts)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # less padding per batch
        for i in range(0, len(texts), batch_size):
            idx = order[i : i + batch_size]
            encodings = self._tokenizer.encode_batch([texts[j] for j in idx])
            states, mask = self._run(encodings)
            out[idx] = unit_rows(self._pool(states, mask))
            if spans is not None:
                for k, j in enumerate(idx):
                    if spans[j]:
                        e = encodings[k]
                        span_out[j] = span_vectors(
                            states[k], e.offsets, e.special_tokens_mask, spans[j]
                        )
        return out, span_out

    def _run(self, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), np.int64)
        mask = np.zeros_like(ids)
        for k, e in enumerate(encodings):
            ids[k, : len(e.ids)] = e.ids
            mask[k, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        states = self._session.run(None, {n: feeds[n] for n in self._inputs})[0]
        return states, mask

    def _pool(self, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.cls_pooling:
            return states[:, 0]
        weights = mask[..., None].astype(np.float32)
        return (states * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)


def span_vectors(
    states: np.ndarray, offsets: Any, special_mask: Any, spans: list[tuple[int, int]]
) -> np.ndarray:
    """Mean token state over each character span (special tokens and truncated text skipped)."""
    offsets = np.array(offsets, dtype=np.int64).reshape(-1, 2)
    special = np.array(special_mask, dtype=bool)
    vectors = np.zeros((len(spans), states.shape[-1]), np.float32)
    for s, (a, b) in enumerate(spans):
        inside = (offsets[:, 0] < b) & (offsets[:, 1] > a) & ~special
        if inside.any():
            vectors[s] = states[: len(offsets)][inside].mean(0)
    return unit_rows(vectors)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, as float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
