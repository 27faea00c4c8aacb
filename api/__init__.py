"""HTTP API: thin FastAPI routes over ``indexer.search.Searcher``."""
