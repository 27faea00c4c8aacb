"""What a request's parts are named, as the route that answers it declares them.

Validation errors point at a field with ``loc`` ("body"/"query"/"path", then its name), and a
domain error (``InvalidQueryError.field``) knows the field's name but not where the caller
sent it: the route's declared parameters say.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.dependencies.models import Dependant


@dataclass(frozen=True)
class RouteParams:
    """The parameters a route reads, its dependencies' included, by the names callers use."""

    query: tuple[str, ...]
    path: tuple[str, ...]
    body: bool

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


def _collect(dependant: Dependant, query: list[str], path: list[str]) -> bool:
    query += [f.alias for f in dependant.query_params if f.alias not in query]
    path += [f.alias for f in dependant.path_params if f.alias not in path]
    body = bool(dependant.body_params)
    for sub in dependant.dependencies:
        body = _collect(sub, query, path) or body
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
        body = _collect(dependant, query, path)
        known = (route, RouteParams(tuple(query), tuple(path), body))
        _PARAMS[id(route)] = known
    return known[1]


def loc_of(request: Request, field: str | None) -> list[str]:
    """The ``loc`` of a validation error about ``field`` of this request (None: the whole
    body, or the query string of a route without one)."""
    params = route_params(request)
    if params is None:
        place = "body" if request.method in ("POST", "PUT", "PATCH") else "query"
    else:
        place = params.place_of(field)
    return [place] if field is None else [place, field]
