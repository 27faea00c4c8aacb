"""The `kb` command: a thin layer over the indexer library and the API."""
