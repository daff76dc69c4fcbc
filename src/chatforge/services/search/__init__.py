"""Search: retrieval behind query-knowledge, chat and the evaluations."""
