"""What every page shares: the API client and a clear stop when the API is down."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from ui.client import ApiClient, ApiUnavailable


def client() -> ApiClient:
    return ApiClient(os.environ.get("KB_API_URL", "http://127.0.0.1:8000"))


def require_api(api: ApiClient) -> dict[str, Any]:
    """The API's health; shows why and stops the page when search is unavailable."""
    try:
        health = api.health()
    except ApiUnavailable as exc:
        st.error(str(exc))
        st.stop()
    if health.get("status") != "ok":
        st.error(f"Search is unavailable: {health.get('reason', 'unknown reason')}")
        st.stop()
    return health


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the API; on failure show the reason and stop the page instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except ApiUnavailable as exc:
        st.error(str(exc))
        st.stop()
