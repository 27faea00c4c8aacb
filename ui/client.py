"""A small HTTP client for the API, so pages show a clear message when the API is down."""

from __future__ import annotations

from typing import Any

import requests


class ApiUnavailable(Exception):
    """The API could not be reached or answered with an error; the message is for people."""


class ApiClient:
    """Calls the kb-assistant API; every failure becomes ApiUnavailable with a readable reason."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = requests.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ApiUnavailable(
                f"The search API at {self.base_url} is not reachable ({type(exc).__name__}). "
                "Start it with `kb serve` or the README's run command."
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise ApiUnavailable(f"The API answered {response.status_code}: {detail}")
        return response.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/health")

    def search(
        self, query: str, top_k: int = 5, filters: dict | None = None, as_of: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "top_k": top_k, "filters": filters or {}}
        if as_of:
            body["as_of"] = as_of
        return self._call("POST", "/search", json=body)

    def documents(self) -> list[dict[str, Any]]:
        return self._call("GET", "/documents")
