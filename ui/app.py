"""The kb-assistant UI: agent search, knowledge-base health and evaluation pages.

Run with ``kb ui`` (or ``streamlit run ui/app.py``); every page talks to the API over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"

st.set_page_config(page_title="kb-assistant", layout="wide")
page = st.navigation(
    [
        st.Page(VIEWS / "agent.py", title="Search", icon=":material/search:", default=True),
        st.Page(VIEWS / "knowledge.py", title="Coverage & quality", icon=":material/insights:"),
        st.Page(VIEWS / "evaluate.py", title="Evaluation", icon=":material/analytics:"),
    ]
)
page.run()
