"""Streamlit pages, run by path from ui/app.py (st.navigation)."""
