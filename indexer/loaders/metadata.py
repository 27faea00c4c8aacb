"""Document metadata: read sidecars, merge with what the file says, normalise field types."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from indexer.loaders.common import ParseError

SIDECAR_SUFFIX = ".meta.yaml"
LIST_FIELDS = ("markets", "access_groups", "tags")
DATE_FIELDS = ("effective_date", "review_date")
DEFAULTS: dict[str, Any] = {
    "doc_type": "document",
    "language": "en",
    "status": "active",
    "version": "1",
    "markets": ["global"],
    "access_groups": ["all-agents"],
    "tags": [],
}


def sidecar_path(path: Path) -> Path:
    """``policy.pdf`` -> ``policy.pdf.meta.yaml``: the metadata for files without front matter."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> dict[str, Any]:
    """The sidecar's fields, or an empty dict when there is none."""
    side = sidecar_path(path)
    if not side.is_file():
        return {}
    try:
        data = yaml.safe_load(side.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParseError(f"unreadable metadata sidecar {side.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise ParseError(f"metadata sidecar {side.name} is not a mapping of fields")
    return data


def normalise(meta: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, lists as lists of strings, dates as ISO strings, version as text."""
    out: dict[str, Any] = {**DEFAULTS, **{k: v for k, v in meta.items() if v is not None}}
    for name in LIST_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        out[name] = [str(v) for v in (value or [])]
    for name in DATE_FIELDS:
        value = out.get(name)
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            out[name] = value.isoformat()
        elif value is not None:
            try:
                out[name] = dt.date.fromisoformat(str(value)).isoformat()
            except ValueError as exc:
                raise ParseError(f"{name} is not an ISO date: {value!r}") from exc
    for name, value in list(out.items()):
        if name not in LIST_FIELDS and not isinstance(value, (str, int, float, bool, list)):
            out[name] = str(value)
    out["version"] = str(out["version"])
    return out
