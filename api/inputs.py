"""What a request may hold, beyond what its schema checks.

Which parameters the answering route declares (validation errors point at a field with
``loc``: "body"/"query"/"path", then its name; a domain error, ``InvalidQueryError.field``,
knows the name but not where the caller sent it), and JSON bodies read strictly: an object
that names a key twice is refused instead of silently keeping the last value.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import field_annotation_is_sequence
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute


@dataclass(frozen=True)
class RouteParams:
    """The parameters a route reads, its dependencies' included, by the names callers use."""

    query: tuple[str, ...]
    path: tuple[str, ...]
    body: bool
    repeatable: tuple[str, ...] = ()  # query parameters that take a list (may come again)

    def place_of(self, name: str | None) -> str:
        """Where a caller sends ``name``: "query", "path" or "body" (a body field, or the
        whole body when ``name`` is None and the route takes one)."""
        if name in self.query:
            return "query"
        if name in self.path:
            return "path"
        return "body" if self.body else "query"


# By route identity: routes compare by path and endpoint, so they are not hashable.
_PARAMS: dict[int, tuple[object, RouteParams]] = {}


def _collect(
    dependant: Dependant, query: list[str], path: list[str], repeatable: list[str]
) -> bool:
    query += [f.alias for f in dependant.query_params if f.alias not in query]
    repeatable += [
        f.alias
        for f in dependant.query_params
        if field_annotation_is_sequence(f.field_info.annotation) and f.alias not in repeatable
    ]
    path += [f.alias for f in dependant.path_params if f.alias not in path]
    body = bool(dependant.body_params)
    for sub in dependant.dependencies:
        body = _collect(sub, query, path, repeatable) or body
    return body


def route_params(request: Request) -> RouteParams | None:
    """The parameters of the route answering ``request``; None before a route matched."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if route is None or not isinstance(dependant, Dependant):
        return None
    known = _PARAMS.get(id(route))
    if known is None or known[0] is not route:
        query: list[str] = []
        path: list[str] = []
        repeatable: list[str] = []
        body = _collect(dependant, query, path, repeatable)
        known = (route, RouteParams(tuple(query), tuple(path), body, tuple(repeatable)))
        _PARAMS[id(route)] = known
    return known[1]


async def known_query_parameters(request: Request) -> None:
    """App-wide dependency: a query parameter the route does not take is a 422 naming it and
    listing those it takes. Async though it awaits nothing: FastAPI runs a plain ``def``
    dependency in its thread pool, a thread hop on every request (bench/RESULTS.md: side by
    side at 100k chunks under paced load, it cost about 2 ms of p50).

    They were ignored: ``?as_off=2024-01-01`` (a typo of as_of) answered as of today, and
    ``?format=cvs`` was caught only because format has a fixed set of values. Read from the
    route's own declared parameters, so a parameter added to a route is accepted at once.
    """
    params = route_params(request)
    if params is None or request.url.path == "/health":  # monitors add cache-busters
        return
    unknown = [name for name in request.query_params if name not in params.query]
    if not unknown:
        _once_each(request, params)
        return
    takes = f"takes {', '.join(params.query)}" if params.query else "takes no query parameters"
    raise RequestValidationError(
        [
            {
                "type": "extra_forbidden",
                "loc": ("query", name),
                "msg": f"unknown query parameter {name!r}; {request.method} "
                f"{getattr(request.scope.get('route'), 'path', 'this route')} {takes}",
                "input": request.query_params.get(name),
            }
            for name in dict.fromkeys(unknown)
        ]
    )


def _once_each(request: Request, params: RouteParams) -> None:
    """A query parameter that takes one value, given twice, is a 422: ``?days=60&days=7``
    answered for 7 days without a word (the last value won), as a JSON body naming a key
    twice did before it was refused."""
    given = Counter(name for name, _ in request.query_params.multi_items())
    repeated = [n for n, times in given.items() if times > 1 and n not in params.repeatable]
    if repeated:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", name),
                    "msg": f"query parameter {name!r} is given {given[name]} times; "
                    "it takes one value",
                    "input": request.query_params.getlist(name),
                }
                for name in repeated
            ]
        )


def loc_of(request: Request, field: str | None) -> list[str]:
    """The ``loc`` of a validation error about ``field`` of this request (None: the whole
    body, or the query string of a route without one)."""
    params = route_params(request)
    if params is None:
        place = "body" if request.method in ("POST", "PUT", "PATCH") else "query"
    else:
        place = params.place_of(field)
    return [place] if field is None else [place, field]


class DuplicateKeyError(ValueError):
    """A JSON body's object names a key twice; ``loc`` is the path to that key."""

    def __init__(self, loc: list[str | int]) -> None:
        self.loc = loc
        where = ".".join(str(part) for part in loc)
        super().__init__(f"the JSON body names {loc[-1]!r} twice (at {where})")

    def error(self) -> dict[str, Any]:
        """The validation error the API answers with (422)."""
        return {
            "type": "json_duplicate_key",
            "loc": ["body", *self.loc],
            "msg": f"{self}: send each key once (JSON parsers keep only the last value, so "
            "which one you meant is a guess)",
        }


class _Repeated(dict):  # type: ignore[type-arg]
    """A decoded object in which ``key`` came twice."""

    key: str


def loads_unique(body: bytes | str) -> Any:
    """``json.loads``, refusing an object that names a key twice (DuplicateKeyError).

    {"query": "a", "query": "b"} was read as {"query": "b"}: a client that builds bodies by
    concatenation, or a hand-written request with a pasted field, searched for something
    else than it thought, with no error to say so.
    """
    repeated: list[_Repeated] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        marked = _Repeated(obj)
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                marked.key = key
                break
            seen.add(key)
        repeated.append(marked)
        return marked

    value = json.loads(body, object_pairs_hook=pairs)
    if repeated:
        raise DuplicateKeyError([*_path_to(value, repeated[0]), repeated[0].key])
    return value


def _path_to(value: Any, target: object) -> list[str | int]:
    """The keys and indexes leading from ``value`` to the object ``target`` (walked without
    recursion: the body may nest as deep as the parser allows)."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            stack += [(v, [*path, k]) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(v, [*path, i]) for i, v in enumerate(node)]
    return []


class StrictJsonRequest(Request):
    """A request whose JSON body is read by :func:`loads_unique`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_unique(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """The API's route class: bodies read as :class:`StrictJsonRequest` (FastAPI reads the
    body with ``request.json()``; a parser error reaches the app's handler as the cause of
    its 400, which the app answers as a 422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
