"""The kb-assistant UI: agent search, knowledge-base health and evaluation pages.

Run with ``kb ui`` (or ``streamlit run ui/app.py``); every page talks to the API over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"

# A collapsed sidebar is only slid off screen (at a phone's width it starts so): its page
# links stayed in the tab order and in screen readers' reading, so keyboard users tabbed into
# links they could not see. Hidden once it has slid away (after Streamlit's 0.3 s slide),
# shown at once when opened. Streamlit marks the state only as data-collapsed on the section.
SIDEBAR_CSS = (
    "<style>section[data-testid='stSidebar'][data-collapsed='true']{visibility:hidden;"
    "transition:transform .3s,min-width .3s,max-width .3s,visibility 0s .3s}</style>"
)

st.set_page_config(page_title="kb-assistant", layout="wide")
st.html(SIDEBAR_CSS)
page = st.navigation(
    [
        st.Page(VIEWS / "agent.py", title="Search", icon=":material/search:", default=True),
        st.Page(VIEWS / "knowledge.py", title="Coverage & quality", icon=":material/insights:"),
        st.Page(VIEWS / "evaluate.py", title="Evaluation", icon=":material/analytics:"),
    ]
)
page.run()
