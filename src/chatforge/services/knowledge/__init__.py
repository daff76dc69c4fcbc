"""Knowledge: items and sources in, through parsing, chunking and indexing, by the worker."""
