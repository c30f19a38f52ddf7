"""A loopback CQL (ScyllaDB/Cassandra native protocol v4) server for tests and ``make run``.

No ScyllaDB can run on these machines, so the order store's ScyllaDB backend is driven
through the real ``cassandra-driver`` against this emulator: ``parser`` (the CQL the store
sends), ``engine`` (tables, timestamps, tombstones, ordering, paging, LWT), ``server``
(the wire protocol), ``runner`` (a background thread). ``python -m devtools.cql --port P``
serves it on its own. Never imported by ``apps/``.
"""
