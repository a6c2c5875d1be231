"""Full-text search: one tantivy index per organization in the key room ($MAILARK_HOME/db/search).

index.py      schema, tokenizers, opening, the single writer, the watermark
text.py       text of a message: bodies (plain, HTML), attachment names and attachment text
documents.py  index documents of archived copies, built from the catalogue and the objects
indexer.py    incremental indexing by the catalogue's change feed; rebuild
query.py      the user's query syntax to a tantivy query (permissions are a clause of it)
searcher.py   running a query: paged, newest first or by relevance
"""
