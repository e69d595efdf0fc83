"""The union catalogue search: local and harvested records found whatever script they
were catalogued in, grouped by edition.

keys (script-insensitive search keys) <- documents (what a record offers to the index)
<- index (kept current by every write of a record) <- query (what users ask).
"""
