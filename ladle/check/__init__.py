"""`ladle check`: end-to-end reconciliation of the catalog with everything built from it.

The truth is catalog.changes read to its end: the latest version of every item (a
delete means the item must be absent downstream). Each stage compares one part
of the pipeline with it, one verdict per unit, and names every unit that is
missing, stale, duplicated or extra (report.py):

- index (index.py): the vector index, through the embedder's API or the store;
- enrichment (enrichment.py): enrichment.results and llm.calls;
- guardrails (guardrails.py): the routing of every current result;
- clickhouse (clickhouse.py): one row per event_id of every topic the sink lands.

Duplicates on a topic are expected under at-least-once delivery only as exact
replays: the same event_id again, which counts once everywhere. Two distinct
event_ids for one fact are reported.
"""
