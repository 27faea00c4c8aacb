"""A small HTTP client for the API, so pages show a clear message when the API is down."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import requests

# pydantic's prefix on a validator's message ("Value error, query is empty"): not for people
_VALUE_ERROR = re.compile(r"^(?:Value|Assertion) error, ")


class ApiUnavailable(Exception):
    """The API could not be reached or answered with an error; the message is for people.

    ``status`` is the API's HTTP status when it answered (None when it did not): a refusal
    (403) stays a refusal however often it is asked again, a timeout may not.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiClient:
    """Calls the kb-assistant API; every failure becomes ApiUnavailable with a readable reason."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        api_key: str | None = None,
        public_url: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Where agents' browsers reach the API (citation links): the UI server may call it at
        # an address only it can reach (http://127.0.0.1:8000), which a link must not carry.
        self.public_url = (public_url or base_url).rstrip("/")
        self.timeout = timeout
        self.api_key = api_key

    def __repr__(self) -> str:  # never the key
        key = "set" if self.api_key else "none"
        return f"ApiClient({self.base_url!r}, api_key={key})"

    def _call(self, method: str, path: str, *, read: tuple[int, ...] = (), **kwargs: Any) -> Any:
        """The response's JSON; a status in ``read`` is read as an answer, not an error."""
        kwargs.setdefault("timeout", self.timeout)
        if self.api_key:
            kwargs["headers"] = {**kwargs.get("headers", {}), "X-API-Key": self.api_key}
        try:
            response = requests.request(method, self.base_url + path, **kwargs)
        except requests.ReadTimeout as exc:  # connected, so it runs: busy, not down
            raise ApiUnavailable(
                f"The search API at {self.base_url} did not answer within "
                f"{kwargs['timeout']:g} s: it is running but busy or slow. "
                "Try again in a moment."
            ) from exc
        except requests.RequestException as exc:
            raise ApiUnavailable(
                f"The search API at {self.base_url} is not reachable ({type(exc).__name__}). "
                "Start it with kb serve, or with the README's run command (./scripts/run)."
            ) from exc
        if response.status_code >= 400 and response.status_code not in read:
            try:
                body = response.json()
            except ValueError:
                body = None
            detail = body.get("detail") if isinstance(body, dict) else response.text[:200]
            if isinstance(detail, list):  # a validation error: say what was wrong, not a repr
                detail = "; ".join(
                    _VALUE_ERROR.sub("", str(d.get("msg", d))) if isinstance(d, dict) else str(d)
                    for d in detail
                )
            if response.status_code == 401:
                key = "refused this page's API key" if self.api_key else "needs an API key"
                raise ApiUnavailable(
                    f"Search is not available here: the search service {key} ({detail}). "
                    "Ask whoever runs kb-assistant to give the UI a valid key (KB_API_KEY, made "
                    "with kb keys create).",
                    401,
                )
            if response.status_code == 403:
                raise ApiUnavailable(f"The UI's API key may not do this ({detail}).", 403)
            if response.status_code == 422:  # the request itself: say what to change
                raise ApiUnavailable(f"The API refused this request: {detail}.", 422)
            raise ApiUnavailable(
                f"The API answered {response.status_code}: {detail}", response.status_code
            )
        return response.json()

    def health(self) -> dict[str, Any]:
        """GET /health; a 503 there is the API saying why it does not serve (its body)."""
        return self._call("GET", "/health", read=(503,))

    def search(
        self,
        query: str,
        top_k: int = 5,
        filters: dict | None = None,
        as_of: str | None = None,
        replay_of: str | None = None,
        context: int = 0,
        mode: str | None = None,
    ) -> dict[str, Any]:
        """POST /search; ``replay_of`` (a logged search_id) shows that search again unlogged,
        ``context`` adds that many neighbouring passages on each side of every result, and
        ``mode`` (dense, bm25, hybrid) overrides the API's own choice (None or "default": not
        sent, so the API's setting and its fallbacks apply)."""
        body: dict[str, Any] = {"query": query, "top_k": top_k, "filters": filters or {}}
        if mode and mode != "default":
            body["mode"] = mode
        if context:
            body["context"] = context
        if as_of:
            body["as_of"] = as_of
        if replay_of:
            body["replay_of"] = replay_of
        return self._call("POST", "/search", json=body)

    def documents(self) -> list[dict[str, Any]]:
        return self._call("GET", "/documents")

    def feedback(
        self, search_id: str, rating: str, comment: str = "", chunk_id: str | None = None
    ) -> dict[str, Any]:
        """Rate a search (or one result of it): helpful, not_helpful or wrong_or_outdated."""
        body = {"search_id": search_id, "rating": rating, "comment": comment, "chunk_id": chunk_id}
        return self._call("POST", "/feedback", json=body)

    def analytics(self, name: str, **params: Any) -> Any:
        """GET /analytics/NAME (summary, gaps, unretrieved, stale, conflicts, ...) as JSON."""
        params = {k: v for k, v in params.items() if v is not None}
        return self._call("GET", f"/analytics/{name}", params=params)

    def eval_datasets(self) -> list[dict[str, Any]]:
        return self._call("GET", "/eval/datasets")

    def run_eval(
        self, dataset: str, split: str | None, modes: list[str], timeout: float = 1800.0
    ) -> dict[str, Any]:
        """Run an evaluation on the API (minutes on a big set, so a long timeout)."""
        body = {"dataset": dataset, "split": split, "modes": modes}
        return self._call("POST", "/eval/run", json=body, timeout=timeout)

    def start_eval(self, dataset: str, split: str | None, modes: list[str]) -> dict[str, Any]:
        """POST /eval/runs: start an evaluation on the API (or join the identical one
        running) and get its run at once, to poll with :meth:`eval_run`."""
        body = {"dataset": dataset, "split": split, "modes": modes}
        return self._call("POST", "/eval/runs", json=body)

    def eval_run(self, run_id: str) -> dict[str, Any]:
        """GET /eval/runs/{run_id}: status and progress; the result once done."""
        return self._call("GET", f"/eval/runs/{quote(run_id, safe='')}")

    def cancel_eval(self, run_id: str) -> dict[str, Any]:
        """DELETE /eval/runs/{run_id}: stop a queued or running evaluation."""
        return self._call("DELETE", f"/eval/runs/{quote(run_id, safe='')}")

    def eval_runs(self) -> list[dict[str, Any]]:
        """GET /eval/runs: the runs the API still holds, newest first, without results."""
        return self._call("GET", "/eval/runs")

    def source_url(self, result: dict[str, Any]) -> str:
        """A link that opens the cited passage inside its document (marked, scrolled to);
        the chunk id lets the page say so when the document has changed since."""
        signed = f"&{result['link_params']}" if result.get("link_params") else ""
        return (
            f"{self.public_url}/source/{quote(result['doc_id'])}"
            f"?start={result['start']}&end={result['end']}&chunk={result['chunk_id']}"
            + (f"&page={result['page']}" if result.get("page") else "")
            + f"{signed}#passage"
        )

    def original_url(self, result: dict[str, Any]) -> str | None:
        """The original PDF at the cited page, for PDF sources."""
        if not str(result.get("source", "")).lower().endswith(".pdf"):
            return None
        page = f"#page={result['page']}" if result.get("page") else ""
        signed = f"?{result['link_params']}" if result.get("link_params") else ""
        return f"{self.public_url}/source-file/{quote(result['doc_id'])}{signed}{page}"
