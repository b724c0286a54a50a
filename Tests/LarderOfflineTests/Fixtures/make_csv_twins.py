"""Writes the CSV twin of each Parquet fixture here: the same rows, values written so
that they parse back to the identical typed values (float32 as its shortest float32
decimal, timestamps in several ISO 8601 / epoch forms, nulls as empty fields).

Run with a Python that has pyarrow and numpy:  python make_csv_twins.py
The Parquet files are copies of shared fixtures (feast_driver_stats, fp_snappy_multi_rg).
"""
import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

EPOCH = dt.datetime(1970, 1, 1)


def iso(ns, sep="T", zone="", digits=6):
    seconds, frac = divmod(ns, 1_000_000_000)
    text = (EPOCH + dt.timedelta(seconds=seconds)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        text += "." + f"{frac:09d}"[:digits]
    return text + zone


def quoted(text):
    """RFC 4180 quoting; an empty string is quoted so that it is not read as a null."""
    if text == "" or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write(parquet_name, csv_name, formats, lineterminator):
    table = pq.read_table(parquet_name)
    columns = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if str(col.type).startswith("timestamp"):
            col = col.cast(pa.timestamp("ns", tz=col.type.tz)).cast(pa.int64())
        columns[name] = col.to_pylist()
    with open(csv_name, "w", newline="", encoding="utf-8") as out:
        out.write(",".join(table.column_names) + lineterminator)
        for row in range(table.num_rows):
            record = []
            for name in table.column_names:
                value = columns[name][row]
                if value is None:
                    record.append("")
                elif name in formats:
                    record.append(formats[name](value))
                elif isinstance(value, str):
                    record.append(quoted(value))
                elif isinstance(value, bool):
                    record.append("true" if value else "false")
                else:
                    record.append(repr(value))
            out.write(",".join(record) + lineterminator)


write("feast_driver_stats.parquet", "feast_driver_stats.csv", {
    "event_timestamp": lambda ns: iso(ns, zone="Z", digits=0),
    "created": lambda ns: iso(ns, sep=" ", digits=0),
    "conv_rate": lambda v: str(np.float32(v)),
    "acc_rate": lambda v: str(np.float32(v)),
}, "\n")

write("fp_snappy_multi_rg.parquet", "fp_snappy_multi_rg.csv", {
    "event_timestamp": lambda ns: iso(ns, sep=" ", zone="+00:00"),
    "f32": lambda v: str(np.float32(v)),
    "ts_ns": lambda ns: iso(ns, digits=9),
    "ts_us": lambda ns: str(ns // 1000),          # epoch microseconds
    "ts_ms": lambda ns: str(ns // 1_000_000),     # epoch milliseconds
}, "\r\n")
