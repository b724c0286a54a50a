// LarderParquet: module overview (kept here as a comment so SwiftPM has no stray resource).
//
// # LarderParquet
//
// Native Swift Parquet reader and writer (no Arrow dependency; codecs through the system
// libsnappy, libzstd, zlib and liblz4).
//
// ## Column model (shared with the CSV reader in LarderOffline) — `ColumnModel.swift`
//
// * `ColumnBatch { fields: [Field], columns: [ColumnData], rowCount }` — one row group (or CSV chunk).
// * `Field { name, type: ColumnType, nullable }`.
// * `ColumnType`: `boolean, int32, int64, float, double, string, binary, date, timestamp(isAdjustedToUTC:), null, list(ColumnType)`.
// * `ColumnData { type, values: ColumnValues, validity: [Bool]? }` — `validity == nil` means no nulls;
//   null slots hold 0 / false / empty.
// * `ColumnValues`: `.boolean([Bool]) .int32([Int32]) .int64([Int64]) .float([Float]) .double([Double])
//   .byteArray(ByteArrayColumn) .list(ListColumn) .null(count:)`.
//   `ByteArrayColumn` = one contiguous `bytes: [UInt8]` + `offsets: [Int32]` (count + 1);
//   `ListColumn` = `offsets: [Int32]` (rows + 1) into a child `ColumnData` of elements.
// * **Timestamps are Int64 nanoseconds since the Unix epoch** (`.int64` storage), whatever the
//   file's unit (ms/µs scaled up, INT96 converted); values outside 1677-2262 are a
//   `value_out_of_range` error. Dates are Int32 days since 1970-01-01.
// * Helpers: `ColumnData.nulls(type:count:)`, `ColumnData.slice(_:)`, `ColumnBatch[name]`.
//
// ## Reading
//
// ```swift
// let file = try ParquetFile(path: "driver_stats.parquet")      // mmap; footer + schema parsed
// file.schema.columns            // [ParquetColumn]: name, type (nil if unsupported) and why
// file.fields                    // readable columns as [Field]
// file.statistics(rowGroup: 0, column: "event_timestamp")       // typed min/max/null count (ns for timestamps)
// file.rowGroups(timeColumn: "event_timestamp", within: lo...hi) // pruning by statistics
// let batch = try file.readRowGroup(0, columns: ["driver_id", "conv_rate"], threads: 2)
// try file.forEachBatch(columns: cols, timeColumn: "event_timestamp", timeRange: lo...hi) { batch in ... }
//
// let ds = try ParquetDataset(path: "data/")   // file, directory (recursive, skips _* and .*) or glob
// ds.fields                                     // unified schema (null→T, int32→int64, float→double)
// try ds.forEachBatch(columns:timeColumn:timeRange:threads:) { batch in ... }   // one row group at a time
// ```
//
// Supported: data pages v1/v2, dictionary pages, PLAIN, PLAIN_DICTIONARY/RLE_DICTIONARY, RLE,
// BIT_PACKED levels, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
// BYTE_STREAM_SPLIT; UNCOMPRESSED, SNAPPY, GZIP (multi-member), ZSTD, LZ4_RAW; page CRCs;
// top-level primitives and top-level lists of primitives (3-level with any names, legacy 2-level,
// bare repeated). Structs, maps, nested lists, DECIMAL/TIME/UUID/FLOAT16 fail with a typed error
// *when requested*; other columns of the same file stay readable.
//
// Call `ParquetMemory.keepFreedMemoryForReuse()` once at process start in programs that stream
// many row groups (CLI, server): with glibc's defaults decoding is about 2x slower (page faults).
//
// ## Errors
//
// Everything throws `ParquetError { kind, detail, file, rowGroup, column, offset }`; `kind.rawValue`
// matches the fixture names (`bad_magic`, `bad_footer_len`, `bad_footer`, `bad_page_header`,
// `bad_page`, `crc_mismatch`, `schema_mismatch`, `unsupported_codec`, `unsupported_nested`, ...).
// `description` reads e.g. `parquet bad_page (f.parquet, row group 0, column 'driver_id', byte
// offset 659): dictionary-encoded page (RLE_DICTIONARY) without a dictionary page before it`.
// Lengths from the file are untrusted: every read is bounds-checked; `ReadLimits` caps page and
// chunk sizes.
//
// ## Writing
//
// ```swift
// let w = try ParquetWriter(path: "train.parquet", fields: batch.fields,
//                           options: ParquetWriterOptions(compression: .snappy, useDictionary: true))
// try w.write(batch)      // one row group per batch (split above maxRowsPerRowGroup)
// try w.close()           // footer with row-group statistics
// ```
//
// Data page v1, PLAIN or dictionary (when values repeat), snappy/zstd/gzip/none, min/max/null
// statistics. Timestamps are written as INT64 TIMESTAMP(NANOS, isAdjustedToUTC), lists as
// standard 3-level LIST (`list`/`element`). Checked readable by pyarrow, pandas, polars and
// DuckDB: `Tests/conformance/parquet/test_parquet_roundtrip.py`.
//
// ## Inspect
//
// `ParquetInspector.describe(path:pages:) -> String`: schema, leaf columns and levels, row
// groups, codecs, encodings, statistics (and with `pages: true` every page).
//
// ## Tests, fuzzing, benchmark
//
// * `swift test --filter LarderParquetTests` — all 48 fixtures, API, writer round trips.
// * `/root/.cache/larder/venv-r7/bin/python -m pytest -q Tests/conformance/parquet/test_parquet_roundtrip.py`
//   (runs `swift test` to write the files, or set `LARDER_PARQUET_CONFORMANCE_DIR` to files
//   written by `LARDER_PARQUET_CONFORMANCE_DIR=DIR swift test --filter WriterTests/testWriteConformanceFiles`).
// * `Fuzz/parquet/run.sh SECONDS` — libFuzzer + ASan, fixtures as seeds.
// * `bench/parquet/bench.py` — see `bench/results/parquet.md`.
