"""Generate golden vectors for the Swift LarderFeatures tests from the real Feast 0.67
and Python protobuf, so the tests compare against real bytes without Python at test time.

Run with the project's Feast venv:
    /root/.cache/larder/venv-r7/bin/python make_golden.py > golden.json

Value JSON convention (read by GoldenVectors.swift):
    {"kind": "<case>", "value": ...}; floats and doubles are given by bit pattern
    ("bits": hex string, or a list of them) so NaN and -0.0 are exact; bytes are hex.
"""
import importlib.metadata
import json
import math
import struct
import sys

import mmh3
import google.protobuf
import feast
from google.protobuf.timestamp_pb2 import Timestamp
from feast.infra.key_encoding_utils import serialize_entity_key, serialize_entity_key_prefix
from feast.infra.online_stores.helpers import _mmh3
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import (BoolList, BytesList, DoubleList, FloatList,
                                                Int32List, Int64List, StringList, Value, ValueType)
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType as FeastValueType


def f32_bits(x):
    return struct.pack("<f", x)[::-1].hex()


def f64_bits(x):
    return struct.pack("<d", x)[::-1].hex()


def describe(v: Value):
    """JSON form of a Value, read back from the message (what protobuf really holds)."""
    which = v.WhichOneof("val")
    if which is None:
        return {"kind": "null"}
    x = getattr(v, which)
    scalar = {"bytes_val": ("bytes", lambda x: x.hex()), "string_val": ("string", str),
              "int32_val": ("int32", int), "int64_val": ("int64", int), "bool_val": ("bool", bool),
              "unix_timestamp_val": ("unix_timestamp", int)}
    if which in scalar:
        kind, conv = scalar[which]
        return {"kind": kind, "value": conv(x)}
    if which == "double_val":
        return {"kind": "double", "bits": f64_bits(x)}
    if which == "float_val":
        return {"kind": "float", "bits": f32_bits(x)}
    lists = {"bytes_list_val": ("bytes_list", lambda e: e.hex()), "string_list_val": ("string_list", str),
             "int32_list_val": ("int32_list", int), "int64_list_val": ("int64_list", int),
             "bool_list_val": ("bool_list", bool), "unix_timestamp_list_val": ("unix_timestamp_list", int)}
    if which in lists:
        kind, conv = lists[which]
        return {"kind": kind, "value": [conv(e) for e in x.val]}
    if which == "double_list_val":
        return {"kind": "double_list", "bits": [f64_bits(e) for e in x.val]}
    if which == "float_list_val":
        return {"kind": "float_list", "bits": [f32_bits(e) for e in x.val]}
    raise ValueError(which)


INT32_EDGES = [0, 1, -1, 127, 128, 300, 2**31 - 1, -2**31]
INT64_EDGES = [0, 1, -1, 971, 2**31, 2**63 - 1, -2**63, 1736024400]
FLOATS = [0.0, -0.0, 1.5, 0.5007, -3.25, float("inf"), float("-inf"), float("nan"), 1e-45, 3.4028234663852886e38]
DOUBLES = [0.0, -0.0, 1.5, 0.143898, -1e300, float("inf"), float("nan"), 5e-324]


def value_cases():
    cases = [Value()]
    cases += [Value(int32_val=x) for x in INT32_EDGES]
    cases += [Value(int64_val=x) for x in INT64_EDGES]
    cases += [Value(unix_timestamp_val=x) for x in [0, 1736024400, -1, 253402300799]]
    cases += [Value(float_val=x) for x in FLOATS]
    cases += [Value(double_val=x) for x in DOUBLES]
    cases += [Value(bool_val=x) for x in [False, True]]
    cases += [Value(string_val=x) for x in ["", "Paris", "Zürich ✓", "x" * 200]]
    cases += [Value(bytes_val=x) for x in [b"", b"\x00\x01", bytes(range(256))]]
    cases += [Value(int32_list_val=Int32List(val=x)) for x in [[], [0], [1, -1, 2**31 - 1, -2**31]]]
    cases += [Value(int64_list_val=Int64List(val=x)) for x in [[], [1, 2, 3], [27929, 13182, 1796], [-1, 2**63 - 1, 0]]]
    cases += [Value(unix_timestamp_list_val=Int64List(val=x)) for x in [[], [1736024400], [0, -5]]]
    cases += [Value(float_list_val=FloatList(val=x)) for x in [[], [1.5, 2.5], [0.0, float("nan"), -0.0]]]
    cases += [Value(double_list_val=DoubleList(val=x)) for x in [[], [1.5, 2.5], [float("nan"), float("-inf")]]]
    cases += [Value(bool_list_val=BoolList(val=x)) for x in [[], [True, False], [False]]]
    cases += [Value(string_list_val=StringList(val=x)) for x in [[], ["a", "b"], [""], ["", "é", "long" * 40]]]
    cases += [Value(bytes_list_val=BytesList(val=x)) for x in [[], [b""], [b"\x00", b"\xff\xfe"]]]
    # A list long enough that the wrapper and packed lengths need two-byte varints.
    cases.append(Value(int64_list_val=Int64List(val=list(range(0, 20000, 97)))))
    cases.append(Value(double_list_val=DoubleList(val=[i / 7 for i in range(40)])))
    return cases


def feast_conversions():
    """How Feast's own type mapper turns Python column values into Values (nulls, NaN)."""
    out = []
    inputs = [
        (FeastValueType.FLOAT, [1.5, None, float("nan")]),
        (FeastValueType.DOUBLE, [0.25, None, float("nan"), 0.0]),
        (FeastValueType.INT64, [7, None, 0]),
        (FeastValueType.INT32, [7, None, -3]),
        (FeastValueType.STRING, ["Paris", None, ""]),
        (FeastValueType.BOOL, [True, False, None]),
        (FeastValueType.FLOAT_LIST, [[1.5, float("nan")], None, []]),
        (FeastValueType.STRING_LIST, [["a", "b"], None, []]),
    ]
    for vt, values in inputs:
        protos = python_values_to_proto_values(values, vt)
        for py, proto in zip(values, protos):
            out.append({"value_type": vt.name, "input": repr(py),
                        "value": describe(proto), "hex": proto.SerializeToString().hex()})
    return out


def entity_key_cases():
    cases = [
        [("driver_id", Value(int64_val=1001))],
        [("driver_id", Value(int64_val=-1))],
        [("driver_id", Value(int32_val=-7))],
        [("customer_id", Value(string_val="c7"))],
        [("customer_id", Value(string_val=""))],
        [("blob", Value(bytes_val=b"\x00\xff"))],
        [("ts", Value(unix_timestamp_val=1736024400))],
        [("driver_id", Value(int64_val=1001)), ("customer_id", Value(string_val="c7"))],
        [("b", Value(int32_val=2)), ("a", Value(int32_val=1)), ("B", Value(string_val="upper"))],
        [("é", Value(string_val="x")), ("z", Value(string_val="y"))],
    ]
    out = []
    for version in (2, 3):
        for pairs in cases:
            key = EntityKey(join_keys=[k for k, _ in pairs], entity_values=[v for _, v in pairs])
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                raw = serialize_entity_key(key, entity_key_serialization_version=version)
            out.append({"version": version, "join_keys": [k for k, _ in pairs],
                        "values": [describe(v) for _, v in pairs], "hex": raw.hex(),
                        "redis_key_hex": (raw + b"driver_e2e").hex()})
    return out


def main():
    murmur_inputs = ["", "a", "ab", "abc", "abcd", "abcde", "hello", "Zürich", "x" * 101,
                     "driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate",
                     "driver_hourly_stats:avg_daily_trips", "driver_hourly_stats:rating",
                     "driver_hourly_stats:city", "driver_hourly_stats:is_active",
                     "driver_hourly_stats:recent_trips", "driver_hourly_stats:tags",
                     "driver_push_stats:conv_rate", "driver_push_stats:city"]
    murmur = [{"input": s, "hash": mmh3.hash(s, signed=False), "field_hex": _mmh3(s).hex()}
              for s in murmur_inputs]
    prefixes = [{"join_keys": keys, "hex": serialize_entity_key_prefix(keys).hex()}
                for keys in (["driver_id"], ["driver_id", "customer_id"], ["b", "a", "c"], [])]
    timestamps = []
    for seconds, nanos in [(0, 0), (1736024400, 0), (1736024400, 123456789), (0, 1), (-1, 999999999),
                           (-62135596800, 0), (253402300799, 999999999)]:
        t = Timestamp(seconds=seconds, nanos=nanos)
        timestamps.append({"seconds": seconds, "nanos": nanos, "hex": t.SerializeToString().hex()})
    values = [{"value": describe(v), "hex": v.SerializeToString().hex()} for v in value_cases()]
    json.dump({
        "generator": {"feast": feast.__version__, "protobuf": google.protobuf.__version__,
                      "mmh3": importlib.metadata.version("mmh3")},
        "murmur3": murmur, "entity_keys": entity_key_cases(), "delete_prefixes": prefixes,
        "timestamps": timestamps, "values": values, "feast_conversions": feast_conversions(),
    }, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
