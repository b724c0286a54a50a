"""Writes a feature repo for sizing runs: view `stats` over ENTITIES entities and ROWS rows spread
over 100 days from 2025-01-01, in Parquet row groups of GROUP rows, sorted by time (so a window
prunes row groups).  python make_repo.py DIR ENTITIES ROWS GROUP [STRING_BYTES]"""
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

out, entities, rows, group = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
string_bytes = int(sys.argv[5]) if len(sys.argv) > 5 else 8
rng = np.random.default_rng(7)
(out / "data").mkdir(parents=True, exist_ok=True)
start = np.datetime64("2025-01-01T00:00:00", "ns").astype(np.int64)
times = np.sort(start + rng.integers(0, 100 * 86400 * 10**9, rows))
table = pa.table({
    "entity_id": pa.array(rng.integers(0, entities, rows), pa.int64()),
    "f_float": pa.array(rng.random(rows), pa.float64()),
    "f_int": pa.array(rng.integers(0, 1000, rows), pa.int64()),
    "f_text": pa.array([("x" * string_bytes) + str(i % 1000) for i in range(rows)], pa.string()),
    "event_timestamp": pa.array(times, pa.timestamp("ns", tz="UTC")),
})
pq.write_table(table, out / "data/stats.parquet", row_group_size=group, compression="snappy")
(out / "feature_store.yaml").write_text("""project: sizing
provider: local
registry: data/registry.db
offline_store: {type: file}
online_store: {type: redis, connection_string: "127.0.0.1:6379"}
entity_key_serialization_version: 3
""")
(out / "definitions.yaml").write_text("""entities:
  - {name: entity, join_keys: [entity_id], value_type: INT64}
file_sources:
  - {name: stats_source, path: data/stats.parquet, timestamp_field: event_timestamp}
feature_views:
  - name: stats
    entities: [entity]
    ttl: 0s
    schema:
      - {name: entity_id, dtype: Int64}
      - {name: f_float, dtype: Float64}
      - {name: f_int, dtype: Int64}
      - {name: f_text, dtype: String}
    source: stats_source
""")
