"""The union catalogue search: local and harvested records found whatever script they
were catalogued in, grouped by edition; its queries, API and pages.

The index it reads is the record repository's (libfed.records: search_keys, the
script-insensitive keys <- search_documents, what a record offers to the index <-
search_index, kept current by every write of a record); query is what users ask.
"""
