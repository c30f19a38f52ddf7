"""The system tables a driver reads: one node (this address) of one data center, no
peers, no schema rows (the driver then knows no keyspaces: it routes without them)."""
from __future__ import annotations

import uuid
from typing import Any

from cassandra import cqltypes

from . import parser as p
from .values import TEXT, TYPES, UUID_TYPE, Rows, invalid, serialize

HOST_ID = uuid.UUID("6c0f7a4e-0000-4000-8000-000000000001")
SCHEMA_VERSION = uuid.UUID("6c0f7a4e-0000-4000-8000-0000000000aa")
SET_OF_TEXT = cqltypes.SetType.apply_parameters((TEXT,))
INET = TYPES["inet"]


def _system_local(address: str) -> dict[str, tuple[type, Any]]:
    return {
        "key": (TEXT, "local"), "bootstrapped": (TEXT, "COMPLETED"),
        "broadcast_address": (INET, address), "cluster_name": (TEXT, "cql-emulator"),
        "cql_version": (TEXT, "3.3.1"), "data_center": (TEXT, "datacenter1"),
        "host_id": (UUID_TYPE, HOST_ID), "listen_address": (INET, address),
        "native_protocol_version": (TEXT, "4"),
        "partitioner": (TEXT, "org.apache.cassandra.dht.Murmur3Partitioner"),
        "rack": (TEXT, "rack1"), "release_version": (TEXT, "3.0.8"),
        "rpc_address": (INET, address), "schema_version": (UUID_TYPE, SCHEMA_VERSION),
        "tokens": (SET_OF_TEXT, {"0"}),
    }


_PEERS = {"peer": INET, "data_center": TEXT, "host_id": UUID_TYPE, "preferred_ip": INET,
          "rack": TEXT, "release_version": TEXT, "rpc_address": INET,
          "schema_version": UUID_TYPE, "tokens": SET_OF_TEXT}


def is_system(name: p.TableName, keyspace: str | None) -> bool:
    return (name.keyspace or keyspace or "").startswith("system")


def system_rows(statement: p.Select, address: str) -> Rows:
    """What a node at ``address`` answers to a SELECT on a system table."""
    space, name = statement.table.keyspace or "system", statement.table.name
    if space == "system" and name == "local":
        local = _system_local(address)
        names = list(local) if statement.columns is None else statement.columns
        missing = [n for n in names if n not in local]
        if missing:
            raise invalid(f"Undefined column name {missing[0]}")
        return Rows(space, name, [(n, local[n][0]) for n in names],
                    [[serialize(local[n][0], local[n][1]) for n in names]])
    if space == "system" and name == "peers_v2":  # ScyllaDB has none
        raise invalid("unconfigured table peers_v2")
    if space == "system" and name == "peers":
        names = list(_PEERS) if statement.columns is None else statement.columns
        return Rows(space, name, [(n, _PEERS.get(n, TEXT)) for n in names], [])
    # No rows; a "*" still names a column (the driver reads no metadata as "none").
    names = ["keyspace_name"] if statement.columns is None else statement.columns
    return Rows(space, name, [(n, TEXT) for n in names], [])
