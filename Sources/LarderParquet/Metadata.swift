// Parquet footer and page header structs (parquet.thrift), with only the fields the reader
// uses. Field ids follow parquet.thrift; unknown fields are skipped so newer writers work.

public enum PhysicalType: Int32, Sendable, CustomStringConvertible {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7
    public var description: String {
        ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"][Int(rawValue)]
    }
}

public enum Repetition: Int32, Sendable { case required = 0, optional = 1, repeated = 2 }

public enum TimeUnit: Sendable, Equatable {
    case millis, micros, nanos
    /// Multiplier from this unit to nanoseconds.
    public var nanosPerUnit: Int64 {
        switch self {
        case .millis: return 1_000_000
        case .micros: return 1_000
        case .nanos: return 1
        }
    }
}

/// The LogicalType union (preferred annotation).
public enum LogicalTypeAnnotation: Sendable, Equatable {
    case string, map, list, enumeration, decimal(scale: Int32, precision: Int32), date
    case time(isAdjustedToUTC: Bool, unit: TimeUnit)
    case timestamp(isAdjustedToUTC: Bool, unit: TimeUnit)
    case integer(bitWidth: Int8, isSigned: Bool)
    case unknown, json, bson, uuid, float16
    case other(id: Int16)
}

struct SchemaElement {
    var type: PhysicalType?
    var rawType: Int32?
    var typeLength: Int32?
    var repetition: Repetition?
    var name = ""
    var numChildren: Int32?
    var convertedType: Int32?
    var logicalType: LogicalTypeAnnotation?
}

public struct KeyValue: Sendable {
    public var key: String
    public var value: String?
}

struct Statistics {
    var max: [UInt8]?
    var min: [UInt8]?
    var nullCount: Int64?
    var distinctCount: Int64?
    var maxValue: [UInt8]?
    var minValue: [UInt8]?
}

struct ColumnMetaData {
    var type: Int32 = -1
    var encodings: [Int32] = []
    var pathInSchema: [String] = []
    var codec: Int32 = 0
    var numValues: Int64 = 0
    var totalUncompressedSize: Int64 = 0
    var totalCompressedSize: Int64 = 0
    var dataPageOffset: Int64 = 0
    var dictionaryPageOffset: Int64?
    var statistics: Statistics?
}

struct ColumnChunk {
    var filePath: String?
    var metaData: ColumnMetaData?
    var hasCryptoMetadata = false
}

struct RowGroup {
    var columns: [ColumnChunk] = []
    var totalByteSize: Int64 = 0
    var numRows: Int64 = 0
}

struct FileMetaData {
    var version: Int32 = 0
    var schema: [SchemaElement] = []
    var numRows: Int64 = 0
    var rowGroups: [RowGroup] = []
    var keyValueMetadata: [KeyValue] = []
    var createdBy: String?
    var isEncrypted = false
}

enum PageType: Int32 { case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3 }

struct DataPageHeader {
    var numValues: Int32 = 0
    var encoding: Int32 = 0
    var definitionLevelEncoding: Int32 = 3
    var repetitionLevelEncoding: Int32 = 3
}

struct DictionaryPageHeader {
    var numValues: Int32 = 0
    var encoding: Int32 = 0
}

struct DataPageHeaderV2 {
    var numValues: Int32 = 0
    var numNulls: Int32 = 0
    var numRows: Int32 = 0
    var encoding: Int32 = 0
    var definitionLevelsByteLength: Int32 = 0
    var repetitionLevelsByteLength: Int32 = 0
    var isCompressed = true
}

struct PageHeader {
    var type: Int32 = -1
    var uncompressedPageSize: Int32 = -1
    var compressedPageSize: Int32 = -1
    var crc: Int32?
    var dataPage: DataPageHeader?
    var dictionaryPage: DictionaryPageHeader?
    var dataPageV2: DataPageHeaderV2?
}

// MARK: - Decoding

extension FileMetaData {
    init(reading r: inout ThriftReader) throws {
        var seen = Set<Int16>()
        try r.structure { r, id, t in
            seen.insert(id)
            switch id {
            case 1: version = try r.int32(t)
            case 2: try r.expect(t, .list); schema = try r.list { try SchemaElement(reading: &$0) }
            case 3: numRows = try r.int(t)
            case 4: try r.expect(t, .list); rowGroups = try r.list { try RowGroup(reading: &$0) }
            case 5: try r.expect(t, .list); keyValueMetadata = try r.list { try KeyValue(reading: &$0) }
            case 6: try r.expect(t, .binary); createdBy = try r.string()
            case 8: isEncrypted = true; try r.skip(t)
            default: try r.skip(t)
            }
        }
        for required: Int16 in 1...4 where !seen.contains(required) {
            throw ParquetError(.badFooter, "FileMetaData lacks required field \(required)")
        }
    }
}

extension KeyValue {
    init(reading r: inout ThriftReader) throws {
        var key = "", value: String?
        try r.structure { r, id, t in
            switch id {
            case 1: try r.expect(t, .binary); key = try r.string()
            case 2: try r.expect(t, .binary); value = try r.string()
            default: try r.skip(t)
            }
        }
        self.init(key: key, value: value)
    }
}

extension SchemaElement {
    init(reading r: inout ThriftReader) throws {
        var hasName = false
        try r.structure { r, id, t in
            switch id {
            case 1:
                let raw = try r.int32(t)
                rawType = raw
                type = PhysicalType(rawValue: raw)
            case 2: typeLength = try r.int32(t)
            case 3:
                let raw = try r.int32(t)
                guard let rep = Repetition(rawValue: raw) else { throw r.fail("unknown repetition \(raw)") }
                repetition = rep
            case 4: try r.expect(t, .binary); name = try r.string(); hasName = true
            case 5: numChildren = try r.int32(t)
            case 6: convertedType = try r.int32(t)
            case 10: try r.expect(t, .structure); logicalType = try LogicalTypeAnnotation(reading: &r)
            default: try r.skip(t)
            }
        }
        if !hasName { throw ParquetError(.badFooter, "SchemaElement lacks its name") }
    }
}

extension TimeUnit {
    init(reading r: inout ThriftReader) throws {
        var unit: TimeUnit?
        try r.structure { r, id, t in
            switch id {
            case 1: unit = .millis
            case 2: unit = .micros
            case 3: unit = .nanos
            default: break
            }
            try r.skip(t)
        }
        guard let unit else { throw r.fail("TimeUnit without a known unit") }
        self = unit
    }
}

extension LogicalTypeAnnotation {
    init(reading r: inout ThriftReader) throws {
        var result: LogicalTypeAnnotation?
        try r.structure { r, id, t in
            switch id {
            case 1: result = .string
            case 2: result = .map
            case 3: result = .list
            case 4: result = .enumeration
            case 6: result = .date
            case 11: result = .unknown
            case 12: result = .json
            case 13: result = .bson
            case 14: result = .uuid
            case 15: result = .float16
            case 5, 7, 8, 10:
                try r.expect(t, .structure)
                var utc = false, unit = TimeUnit.millis, bitWidth: Int8 = 0, signed = true
                var scale: Int32 = 0, precision: Int32 = 0
                try r.structure { r, fid, ft in
                    switch (id, fid) {
                    case (5, 1): scale = try r.int32(ft)
                    case (5, 2): precision = try r.int32(ft)
                    case (7, 1), (8, 1): utc = try r.bool(ft)
                    case (7, 2), (8, 2): try r.expect(ft, .structure); unit = try TimeUnit(reading: &r)
                    case (10, 1): bitWidth = Int8(truncatingIfNeeded: try r.int(ft))
                    case (10, 2): signed = try r.bool(ft)
                    default: try r.skip(ft)
                    }
                }
                switch id {
                case 5: result = .decimal(scale: scale, precision: precision)
                case 7: result = .time(isAdjustedToUTC: utc, unit: unit)
                case 8: result = .timestamp(isAdjustedToUTC: utc, unit: unit)
                default: result = .integer(bitWidth: bitWidth, isSigned: signed)
                }
                return
            default: result = .other(id: id)
            }
            try r.skip(t)
        }
        guard let result else { throw r.fail("empty LogicalType union") }
        self = result
    }
}

extension RowGroup {
    init(reading r: inout ThriftReader) throws {
        try r.structure { r, id, t in
            switch id {
            case 1: try r.expect(t, .list); columns = try r.list { try ColumnChunk(reading: &$0) }
            case 2: totalByteSize = try r.int(t)
            case 3: numRows = try r.int(t)
            default: try r.skip(t)
            }
        }
    }
}

extension ColumnChunk {
    init(reading r: inout ThriftReader) throws {
        try r.structure { r, id, t in
            switch id {
            case 1: try r.expect(t, .binary); filePath = try r.string()
            case 3: try r.expect(t, .structure); metaData = try ColumnMetaData(reading: &r)
            case 8, 9: hasCryptoMetadata = true; try r.skip(t)
            default: try r.skip(t)
            }
        }
    }
}

extension ColumnMetaData {
    init(reading r: inout ThriftReader) throws {
        try r.structure { r, id, t in
            switch id {
            case 1: type = try r.int32(t)
            case 2:
                let (n, et) = try r.listHeader()
                for _ in 0..<n { encodings.append(try r.int32(et)) }
            case 3:
                let (n, et) = try r.listHeader()
                try r.expect(et, .binary)
                for _ in 0..<n { pathInSchema.append(try r.string()) }
            case 4: codec = try r.int32(t)
            case 5: numValues = try r.int(t)
            case 6: totalUncompressedSize = try r.int(t)
            case 7: totalCompressedSize = try r.int(t)
            case 9: dataPageOffset = try r.int(t)
            case 11: dictionaryPageOffset = try r.int(t)
            case 12: try r.expect(t, .structure); statistics = try Statistics(reading: &r)
            default: try r.skip(t)
            }
        }
    }
}

extension Statistics {
    init(reading r: inout ThriftReader) throws {
        try r.structure { r, id, t in
            switch id {
            case 1: try r.expect(t, .binary); max = try r.bytes()
            case 2: try r.expect(t, .binary); min = try r.bytes()
            case 3: nullCount = try r.int(t)
            case 4: distinctCount = try r.int(t)
            case 5: try r.expect(t, .binary); maxValue = try r.bytes()
            case 6: try r.expect(t, .binary); minValue = try r.bytes()
            default: try r.skip(t)
            }
        }
    }
}

extension PageHeader {
    init(reading r: inout ThriftReader) throws {
        var seen = Set<Int16>()
        try r.structure { r, id, t in
            seen.insert(id)
            switch id {
            case 1: type = try r.int32(t)
            case 2: uncompressedPageSize = try r.int32(t)
            case 3: compressedPageSize = try r.int32(t)
            case 4: crc = try r.int32(t)
            case 5:
                try r.expect(t, .structure)
                var h = DataPageHeader()
                try r.structure { r, fid, ft in
                    switch fid {
                    case 1: h.numValues = try r.int32(ft)
                    case 2: h.encoding = try r.int32(ft)
                    case 3: h.definitionLevelEncoding = try r.int32(ft)
                    case 4: h.repetitionLevelEncoding = try r.int32(ft)
                    default: try r.skip(ft)
                    }
                }
                dataPage = h
            case 7:
                try r.expect(t, .structure)
                var h = DictionaryPageHeader()
                try r.structure { r, fid, ft in
                    switch fid {
                    case 1: h.numValues = try r.int32(ft)
                    case 2: h.encoding = try r.int32(ft)
                    default: try r.skip(ft)
                    }
                }
                dictionaryPage = h
            case 8:
                try r.expect(t, .structure)
                var h = DataPageHeaderV2()
                try r.structure { r, fid, ft in
                    switch fid {
                    case 1: h.numValues = try r.int32(ft)
                    case 2: h.numNulls = try r.int32(ft)
                    case 3: h.numRows = try r.int32(ft)
                    case 4: h.encoding = try r.int32(ft)
                    case 5: h.definitionLevelsByteLength = try r.int32(ft)
                    case 6: h.repetitionLevelsByteLength = try r.int32(ft)
                    case 7: h.isCompressed = try r.bool(ft)
                    default: try r.skip(ft)
                    }
                }
                dataPageV2 = h
            default: try r.skip(t)
            }
        }
        for required: Int16 in 1...3 where !seen.contains(required) {
            throw r.fail("PageHeader lacks required field \(required)")
        }
    }
}

// MARK: - Names for messages and the inspector

enum ParquetNames {
    static func encoding(_ e: Int32) -> String {
        switch e {
        case 0: return "PLAIN"
        case 2: return "PLAIN_DICTIONARY"
        case 3: return "RLE"
        case 4: return "BIT_PACKED"
        case 5: return "DELTA_BINARY_PACKED"
        case 6: return "DELTA_LENGTH_BYTE_ARRAY"
        case 7: return "DELTA_BYTE_ARRAY"
        case 8: return "RLE_DICTIONARY"
        case 9: return "BYTE_STREAM_SPLIT"
        case 10: return "ALP"
        default: return "encoding #\(e)"
        }
    }

    static func codec(_ c: Int32) -> String {
        switch c {
        case 0: return "UNCOMPRESSED"
        case 1: return "SNAPPY"
        case 2: return "GZIP"
        case 3: return "LZO"
        case 4: return "BROTLI"
        case 5: return "LZ4 (Hadoop framed)"
        case 6: return "ZSTD"
        case 7: return "LZ4_RAW"
        default: return "codec #\(c)"
        }
    }

    static func physical(_ t: Int32) -> String {
        PhysicalType(rawValue: t)?.description ?? "physical type #\(t)"
    }

    static func pageType(_ t: Int32) -> String {
        switch t {
        case 0: return "DATA_PAGE"
        case 1: return "INDEX_PAGE"
        case 2: return "DICTIONARY_PAGE"
        case 3: return "DATA_PAGE_V2"
        default: return "page type #\(t)"
        }
    }
}
