"""A loopback CQL (ScyllaDB/Cassandra native protocol v4) server for tests and ``make run``.

No ScyllaDB can run on these machines, so the order store's ScyllaDB backend is driven
through the real ``cassandra-driver`` against this emulator: ``parser`` (the CQL the store
sends), ``engine`` (each statement's semantics: upserts, timestamps, tombstones, LWT,
reads and paging), ``storage`` (tables in token and clustering order, cells, the paging
state), ``system`` (the system tables a driver reads), ``values`` (errors, types,
results), ``server`` (the wire protocol), ``runner`` (a background thread).
``python -m devtools.cql --port P`` serves it on its own. Never imported by ``apps/``.
"""
