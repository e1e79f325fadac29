"""ingest: fetch, clean and store news articles from a set of outlets into SQLite."""

__version__ = "0.1.0"
