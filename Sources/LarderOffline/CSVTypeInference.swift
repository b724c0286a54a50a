import LarderParquet

// Column type inference over a sample of rows. Each column walks up a small lattice as
// values are seen: nothing seen -> bool | int64 | timestamp, int64 -> float64 (a
// fractional value appears), and anything that disagrees -> string. Empty fields are
// nulls and say nothing about the type; a column with only nulls in the sample is a
// string column. An integer literal too large for Int64 makes the column a string,
// not a float, so that big identifiers are never silently rounded.

/// Type a column has been inferred to have so far.
enum CSVInferredType: Equatable {
    case unknown
    case boolean
    case int64
    case float64
    /// `anyZone`: some value carried `Z` or an offset (then the column is UTC).
    case timestamp(anyZone: Bool)
    case string

    var columnType: ColumnType {
        switch self {
        case .unknown, .string: return .string
        case .boolean: return .boolean
        case .int64: return .int64
        case .float64: return .double
        case .timestamp(let anyZone): return .timestamp(isAdjustedToUTC: anyZone)
        }
    }

    /// The narrowest type that holds both.
    func widened(with other: CSVInferredType) -> CSVInferredType {
        switch (self, other) {
        case (.unknown, _): return other
        case (_, .unknown): return self
        case (.int64, .float64), (.float64, .int64): return .float64
        case (.timestamp(let a), .timestamp(let b)): return .timestamp(anyZone: a || b)
        default: return self == other ? self : .string
        }
    }

    /// The type of a single non-empty (already trimmed) value.
    static func of(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> CSVInferredType {
        let first = p[start]
        let startsNumeric = (first >= 48 && first <= 57) || first == UInt8(ascii: "-")
            || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
        if startsNumeric {
            if CSVScalar.parseInt64(p, start, end) != nil { return .int64 }
            if CSVScalar.isIntegerLiteral(p, start, end) { return .string }
            if let parsed = CSVTimestamp.parseISO8601(p, start, end) { return .timestamp(anyZone: parsed.hasZone) }
        }
        if CSVScalar.parseBool(p, start, end, allowDigits: false) != nil { return .boolean }
        if CSVScalar.parseDouble(p, start, end) != nil { return .float64 }
        return .string
    }
}

/// Accumulates the inferred type of every column over sampled records.
struct CSVTypeInference {
    private(set) var types: [CSVInferredType]

    init(columnCount: Int) {
        types = Array(repeating: .unknown, count: columnCount)
    }

    /// Observes every field of the tokenized records; records of the wrong width are
    /// skipped here (the conversion pass reports them with their line).
    mutating func observe(_ tokenizer: CSVTokenizer, bytes p: UnsafePointer<UInt8>) {
        let fields = tokenizer.fields
        for r in 0 ..< tokenizer.recordCount where tokenizer.fieldCount(ofRecord: r) == types.count {
            let first = tokenizer.recordFieldStart[r]
            for c in 0 ..< types.count where types[c] != .string {
                let span = fields[first + c]
                let (s, e) = CSVScalar.trim(p, span.start, span.end)
                guard s < e else { continue }  // null
                // Quoted text with doubled quotes is never a number, bool or timestamp.
                let valueType = span.hasDoubledQuotes ? .string : CSVInferredType.of(p, s, e)
                types[c] = types[c].widened(with: valueType)
            }
        }
    }

    var columnTypes: [ColumnType] { types.map(\.columnType) }
}
