"""Document metadata: read sidecars, merge with what the file says, normalise field types."""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import tomllib
from pathlib import Path
from typing import Any

import yaml

from indexer.loaders.common import ParseError, decode_text

logger = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".meta.yaml"
LIST_FIELDS = ("markets", "access_groups", "tags")
DATE_FIELDS = ("effective_date", "review_date")
DEFAULTS: dict[str, Any] = {
    "doc_type": "document",
    "language": "en",
    "status": "active",
    "version": "",  # none recorded: citations say "no version" rather than invent one
    "markets": ["global"],
    "access_groups": ["all-agents"],
    "tags": [],
}
# The fields the README documents; any other is kept, but one that looks like a misspelling
# of these is reported, since a silently ignored `effectve_date` makes a policy always in force.
KNOWN_FIELDS = frozenset(
    {*DEFAULTS, "title", "owner_team", "product_area", "effective_date", "review_date"}
    | {"superseded_by", "supersedes"}
)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


class _FieldLoader(yaml.BaseLoader):
    """BaseLoader that refuses a field given twice with different values.

    YAML parsers keep the last of two equal keys without a word; for a policy, two different
    ``effective_date`` lines leave which one is in force to an accident of order.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=True)
        first: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                continue
            if key not in first:
                first[key] = (key_node, value_node)
                continue
            earlier_key, earlier = first[key]
            if self.construct_object(earlier, deep=True) != self.construct_object(
                value_node, deep=True
            ):
                raise yaml.constructor.ConstructorError(
                    f"field '{key}' is given here",
                    earlier_key.start_mark,
                    "and again with another value (keep one)",
                    key_node.start_mark,
                )
        return mapping


def parse_fields(text: str, where: str, first_line: int = 1) -> dict[str, Any]:
    """YAML metadata as written: every scalar stays text.

    YAML 1.1's implicit types would turn ``version: 3.10`` into 3.1, a market ``NO`` (Norway)
    into False and an impossible date into a crash deep in the parser; we read the text and
    type each field ourselves in :func:`normalise`. ``first_line`` is the file's line number
    of the text's first line (2 in front matter), for the error's line.
    """
    try:
        data = yaml.load(text, Loader=_FieldLoader)  # noqa: S506 - BaseLoader builds no objects
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML in {where}{yaml_error(exc, first_line)}") from exc
    if data is None or (isinstance(data, str) and data.strip() in _NULLS):
        return {}
    if not isinstance(data, dict):
        raise ParseError(f"{where} is not a mapping of fields")
    return {k: v for k, v in data.items() if not (isinstance(v, str) and v.strip() in _NULLS)}


def yaml_error(exc: yaml.YAMLError, first_line: int = 1) -> str:
    """PyYAML's error as one line for a skip reason: ' at line 3, column 1: found character
    ...', counted in the file. Its own text spans several lines, quotes the source with a caret
    under it and names the input '<unicode string>'; the summary collapsed all of that."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f": {' '.join(str(exc).split())}"

    def line(mark: yaml.Mark) -> str:
        return f"line {mark.line + first_line}, column {mark.column + 1}"

    # what was open ('while scanning a quoted scalar') is where to look; the problem's own
    # place is often only the end of the text
    mark = exc.context_mark or exc.problem_mark
    problem = " ".join(f"{exc.context or ''}, {exc.problem or 'malformed'}".strip(", ").split())
    if exc.context_mark and exc.problem_mark and exc.problem_mark.line != exc.context_mark.line:
        problem += f" at {line(exc.problem_mark)}"
    if "'\\t'" in problem:
        problem += " (YAML does not allow a tab here: use spaces)"
    return f" at {line(mark)}: {problem}" if mark else f": {problem}"


def parse_toml_fields(text: str, where: str) -> dict[str, Any]:
    """TOML metadata (Hugo's ``+++`` front matter) as :func:`parse_fields` gives the YAML
    equivalent: every scalar as the text it would be in YAML, so both are typed and checked
    alike by :func:`normalise` (``version = 3.10`` stays "3.10", ``draft = false`` "false")."""
    try:
        data = tomllib.loads(text, parse_float=str)
    except tomllib.TOMLDecodeError as exc:
        raise ParseError(f"invalid TOML in {where}: {exc}") from exc
    fields = {k: _as_text(v) for k, v in data.items()}
    return {k: v for k, v in fields.items() if not (isinstance(v, str) and v.strip() in _NULLS)}


def _as_text(value: Any) -> Any:
    """A TOML value with its scalars written as text: tables and arrays keep their shape."""
    if isinstance(value, dict):
        return {k: _as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_text(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    return str(value)


def sidecar_path(path: Path) -> Path:
    """``policy.pdf`` -> ``policy.pdf.meta.yaml``: the metadata for files without front matter."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def sidecar_fields(data: bytes, name: str) -> dict[str, Any]:
    """The fields of a sidecar's bytes (``name`` is its file name, for the reason)."""
    try:  # UTF-8 or, with its byte-order mark, UTF-16 (what Windows PowerShell 5 writes)
        text = decode_text(data)
    except ParseError as exc:
        raise ParseError(f"unreadable metadata sidecar {name}: {exc}") from exc
    return parse_fields(text, f"metadata sidecar {name}")


def overridden(own: dict[str, Any], side: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, the file's value, the sidecar's) where both set a field differently: an HTML
    page's kb-version meta and its sidecar disagreeing was settled silently by the sidecar,
    so the version cited may not be the one the page shows."""
    out = []
    for name in sorted(own.keys() & side.keys()):
        try:
            mine, theirs = normalise({name: own[name]}), normalise({name: side[name]})
        except ParseError:
            continue  # a malformed value is refused with its reason by the merged check
        if mine.get(name) != theirs.get(name):
            out.append((name, mine.get(name), theirs.get(name)))
    return out


def normalise(meta: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, lists as lists of strings, dates as ISO strings, the rest as text.

    A value of the wrong shape (a list where one value belongs, an impossible date) raises
    ParseError naming the field, so the file is skipped with that reason, not the whole build.
    """
    out: dict[str, Any] = {**DEFAULTS, **{k: v for k, v in meta.items() if v is not None}}
    for name in LIST_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif not isinstance(value, (list, tuple)):
            raise ParseError(f"{name} must be a list of values, not {value!r}")
        if any(isinstance(v, (list, tuple, dict)) for v in value):
            raise ParseError(f"{name} must be a list of single values, not {value!r}")
        out[name] = [str(v) for v in value if v is not None and str(v).strip() not in _NULLS]
    for name in DATE_FIELDS:
        value = out.get(name)
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            out[name] = value.isoformat()
        elif value is not None:
            try:  # a date, or a date-time whose date is what a policy's effective day means
                out[name] = dt.datetime.fromisoformat(str(value).strip()).date().isoformat()
            except ValueError as exc:
                raise ParseError(f"{name} is not an ISO date (YYYY-MM-DD): {value!r}") from exc
    for name, value in list(out.items()):
        if name in LIST_FIELDS or name in DATE_FIELDS:
            continue
        if isinstance(value, (list, tuple, dict)):
            if name in KNOWN_FIELDS:
                raise ParseError(f"{name} must be a single value, not {value!r}")
            continue  # a team's own structured field, kept as written
        out[name] = value if isinstance(value, (str, bool, int, float)) else str(value)
    out["version"] = str(out["version"]).strip()
    # the in-force rule and filters compare it to 'superseded' and 'active': 'Superseded'
    # written by hand must not leave a retired policy in force
    out["status"] = str(out["status"]).strip().lower() or DEFAULTS["status"]
    return out


def timed_dates(meta: dict[str, Any]) -> list[str]:
    """A warning for each date field written with a time of day other than midnight: the
    index compares dates, so "2026-03-01T18:00" is in force all of 1 March, and nothing said
    the hour was dropped."""
    out = []
    for name in DATE_FIELDS:
        value = meta.get(name)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            continue
        try:
            when = (
                value
                if isinstance(value, dt.datetime)
                else dt.datetime.fromisoformat(str(value).strip())
            )
        except ValueError:
            continue  # not a date-time: normalise() refuses it with its reason
        if when.time() != dt.time(0):
            out.append(
                f"{name} {when.isoformat()!r} has a time of day; dates are compared as days, "
                f"so it reads as {when.date().isoformat()} (all day)"
            )
    return out


def unknown_fields(meta: dict[str, Any]) -> list[str]:
    """'effectve_date (did you mean effective_date?)' for each field that looks misspelt."""
    found = []
    for name in meta:
        if name in KNOWN_FIELDS:
            continue
        close = difflib.get_close_matches(str(name), sorted(KNOWN_FIELDS), n=1, cutoff=0.8)
        if close:
            found.append(f"{name} (did you mean {close[0]}?)")
    return found
