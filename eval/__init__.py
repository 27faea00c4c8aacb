"""Evaluation harness: metrics over labelled queries (see the issue on retrieval quality)."""
