import LarderParquet

// Converts one column of tokenized records into typed storage of the shared column model.
// The type switch happens once per window of records, not per value; nulls are recorded
// as row indices and turned into a validity mask only when the batch is finished, so a
// column without nulls never allocates one.

struct CSVColumnBuilder {
    /// What the builder parses; derived from the column type once.
    enum Conversion {
        case boolean, int32, int64, float, double, bytes, date, timestamp
    }

    let field: Field
    /// Position of the column in each record.
    let recordIndex: Int
    let conversion: Conversion
    let epochUnit: CSVEpochUnit?

    private var booleans: [Bool] = []
    private var int32s: [Int32] = []
    private var int64s: [Int64] = []
    private var floats: [Float] = []
    private var doubles: [Double] = []
    private var byteArray = ByteArrayColumn()
    private var nullRows: [Int] = []
    private(set) var count = 0

    init(field: Field, recordIndex: Int, epochUnit: CSVEpochUnit?, file: String) throws {
        self.field = field
        self.recordIndex = recordIndex
        self.epochUnit = epochUnit
        switch field.type {
        case .boolean: conversion = .boolean
        case .int32: conversion = .int32
        case .int64: conversion = .int64
        case .float: conversion = .float
        case .double: conversion = .double
        case .string, .binary: conversion = .bytes
        case .date: conversion = .date
        case .timestamp: conversion = .timestamp
        case .null, .list:
            throw CSVError(.unsupportedType(field.type.description), file: file, line: 1, column: field.name)
        }
    }

    /// Appends this column's value of every record of `tokenizer` (already checked to be full width).
    mutating func append(_ tokenizer: CSVTokenizer, bytes p: UnsafePointer<UInt8>) throws {
        let context = Context(tokenizer: tokenizer, bytes: p, field: field, recordIndex: recordIndex)
        switch conversion {
        case .boolean:
            try context.convert(into: &booleans, nulls: &nullRows, base: count, empty: false) { p, s, e in
                CSVScalar.parseBool(p, s, e, allowDigits: true)
            }
        case .int32:
            try context.convert(into: &int32s, nulls: &nullRows, base: count, empty: 0) { p, s, e in
                CSVScalar.parseInt64(p, s, e).flatMap { Int32(exactly: $0) }
            }
        case .int64:
            try context.convert(into: &int64s, nulls: &nullRows, base: count, empty: 0) { p, s, e in
                CSVScalar.parseInt64(p, s, e)
            }
        case .float:
            try context.convert(into: &floats, nulls: &nullRows, base: count, empty: 0) { p, s, e in
                CSVScalar.parseDouble(p, s, e).map { Float($0) }
            }
        case .double:
            try context.convert(into: &doubles, nulls: &nullRows, base: count, empty: 0) { p, s, e in
                CSVScalar.parseDouble(p, s, e)
            }
        case .date:
            try context.convert(into: &int32s, nulls: &nullRows, base: count, empty: 0) { p, s, e in
                CSVTimestamp.parseDate(p, s, e)
            }
        case .timestamp:
            let unit = epochUnit
            try context.convert(into: &int64s, nulls: &nullRows, base: count, empty: 0) { p, s, e in
                if let parsed = CSVTimestamp.parseISO8601(p, s, e) { return parsed.nanoseconds }
                return CSVTimestamp.parseEpoch(p, s, e, unit: unit)
            }
        case .bytes:
            context.appendBytes(into: &byteArray, nulls: &nullRows, base: count)
            guard byteArray.bytes.count <= Int(Int32.max) else {
                throw CSVError(.batchTooLarge, file: tokenizer.fileName, line: tokenizer.recordLines.last ?? 0,
                               column: field.name)
            }
        }
        count += tokenizer.recordCount
    }

    /// The accumulated values as a column; the builder starts over empty.
    mutating func finish() -> ColumnData {
        var validity: [Bool]? = nil
        if !nullRows.isEmpty {
            var mask = [Bool](repeating: true, count: count)
            for row in nullRows { mask[row] = false }
            validity = mask
        }
        let values: ColumnValues
        switch conversion {
        case .boolean: values = .boolean(booleans); booleans = []
        case .int32, .date: values = .int32(int32s); int32s = []
        case .int64, .timestamp: values = .int64(int64s); int64s = []
        case .float: values = .float(floats); floats = []
        case .double: values = .double(doubles); doubles = []
        case .bytes: values = .byteArray(byteArray); byteArray = ByteArrayColumn()
        }
        nullRows = []
        count = 0
        return ColumnData(type: field.type, values: values, validity: validity)
    }
}

/// The records being converted and how to report a bad value among them.
private struct Context {
    let tokenizer: CSVTokenizer
    let bytes: UnsafePointer<UInt8>
    let field: Field
    let recordIndex: Int

    /// Parses the trimmed field of every record; an empty one is a null (`empty` fills its slot).
    @inline(__always)
    func convert<T>(into values: inout [T], nulls: inout [Int], base: Int, empty: T,
                    parse: (UnsafePointer<UInt8>, Int, Int) -> T?) throws {
        let p = bytes
        let fields = tokenizer.fields
        let starts = tokenizer.recordFieldStart
        values.reserveCapacity(values.count + tokenizer.recordCount)
        for r in 0 ..< tokenizer.recordCount {
            let span = fields[starts[r] + recordIndex]
            let (s, e) = CSVScalar.trim(p, span.start, span.end)
            if s == e {
                nulls.append(base + r)
                values.append(empty)
                continue
            }
            guard !span.hasDoubledQuotes, let value = parse(p, s, e) else {
                throw invalidValue(span, record: r)
            }
            values.append(value)
        }
    }

    /// Copies every field's bytes (doubled quotes collapsed). An empty unquoted field is a
    /// null; a quoted one (`""`) is the empty string, so text columns keep the difference.
    func appendBytes(into column: inout ByteArrayColumn, nulls: inout [Int], base: Int) {
        let p = bytes
        let fields = tokenizer.fields
        let starts = tokenizer.recordFieldStart
        column.offsets.reserveCapacity(column.offsets.count + tokenizer.recordCount)
        for r in 0 ..< tokenizer.recordCount {
            let span = fields[starts[r] + recordIndex]
            if span.isEmpty {
                if span.flags & CSVFieldSpan.quoted == 0 { nulls.append(base + r) }
            } else if span.hasDoubledQuotes {
                CSVColumnText.appendUnescaped(p, span.start, span.end, to: &column.bytes)
            } else {
                column.bytes.append(contentsOf: UnsafeBufferPointer(start: p + span.start, count: span.end - span.start))
            }
            column.offsets.append(Int32(truncatingIfNeeded: column.bytes.count))
        }
    }

    func invalidValue(_ span: CSVFieldSpan, record r: Int) -> CSVError {
        var text = CSVColumnText.string(bytes, span)
        if text.count > 80 { text = String(text.prefix(77)) + "..." }
        return CSVError(.invalidValue(value: text, type: CSVColumnText.typeName(field.type)),
                        file: tokenizer.fileName, line: tokenizer.recordLines[r], column: field.name,
                        fieldNumber: recordIndex + 1)
    }
}

enum CSVColumnText {
    /// Appends `p[start ..< end]` with each `""` collapsed to `"`.
    static func appendUnescaped(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, to bytes: inout [UInt8]) {
        var i = start
        while i < end {
            bytes.append(p[i])
            i += (p[i] == UInt8(ascii: "\"") && i + 1 < end && p[i + 1] == UInt8(ascii: "\"")) ? 2 : 1
        }
    }

    /// The field's text, unescaped (for headers and error messages).
    static func string(_ p: UnsafePointer<UInt8>, _ span: CSVFieldSpan) -> String {
        var bytes: [UInt8] = []
        appendUnescaped(p, span.start, span.end, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// How the CSV reader names a type in messages (CSV vocabulary: float64, not double).
    static func typeName(_ type: ColumnType) -> String {
        switch type {
        case .double: return "float64"
        case .float: return "float32"
        case .timestamp: return "timestamp"
        case .date: return "date"
        default: return type.description
        }
    }
}
