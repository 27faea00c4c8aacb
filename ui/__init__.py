"""Streamlit UI; it talks to the API over HTTP and imports nothing heavy."""
