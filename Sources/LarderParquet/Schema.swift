// Schema tree -> leaf columns with levels, shapes (scalar / list) and the caller-facing
// ColumnType. Unsupported shapes are recorded, not thrown: they only fail when requested.

/// How stored physical values become the column's values.
enum ValueConversion: Equatable {
    case none
    /// INT64 timestamps in ms or µs: multiply to reach nanoseconds (checked).
    case scaleToNanos(Int64)
    /// INT96 (nanos-of-day, Julian day) -> Int64 nanoseconds.
    case int96
    /// UINT32 stored in INT32: reinterpret and widen to Int64.
    case widenUInt32
}

enum LeafShape: Equatable {
    case scalar
    /// A top-level list: def < listDef is a null list, def == listDef an empty list,
    /// def >= elemDef an element slot (def == maxDef a non-null element).
    case list(listDef: Int, elemDef: Int)
    case unsupported(String)
}

struct LeafColumn {
    let index: Int
    let path: [String]
    let physical: PhysicalType
    let typeLength: Int
    let maxDef: Int
    let maxRep: Int
    let shape: LeafShape
    /// Type of one (element) value, or why it cannot be read.
    let valueType: Result<ColumnType, ParquetError>
    let conversion: ValueConversion
    let logicalDescription: String?
    let nullable: Bool

    var dottedPath: String { path.joined(separator: ".") }
}

/// A top-level column of a file, as shown to callers.
public struct ParquetColumn: Sendable {
    public let name: String
    /// nil when the column cannot be read (see `unsupportedReason`).
    public let type: ColumnType?
    public let nullable: Bool
    public let unsupportedReason: String?
    /// Leaf indices in the file (one for supported columns).
    let leafIndices: [Int]
}

/// The file schema: leaves in column-chunk order and top-level columns.
public struct ParquetSchema: Sendable {
    public let columns: [ParquetColumn]
    let leaves: [LeafColumn]

    /// Readable columns as fields, in file order.
    public var fields: [Field] {
        columns.compactMap { c in c.type.map { Field(name: c.name, type: $0, nullable: c.nullable) } }
    }

    public func column(named name: String) -> ParquetColumn? { columns.first { $0.name == name } }
}

extension LeafColumn: @unchecked Sendable {}

// MARK: - Building

private final class SchemaNode {
    let element: SchemaElement
    var children: [SchemaNode] = []
    init(_ e: SchemaElement) { element = e }
    var isGroup: Bool { element.numChildren != nil && element.type == nil || !children.isEmpty }
    var isListAnnotated: Bool {
        if case .list? = element.logicalType { return true }
        return element.convertedType == 3
    }
}

extension ParquetSchema {
    init(elements: [SchemaElement]) throws {
        guard let rootElement = elements.first else { throw ParquetError(.badSchema, "the schema is empty") }
        var next = 1
        func build(_ e: SchemaElement, depth: Int) throws -> SchemaNode {
            guard depth < 64 else { throw ParquetError(.badSchema, "schema nested deeper than 64 levels") }
            let node = SchemaNode(e)
            let n = Int(e.numChildren ?? 0)
            guard n >= 0 else { throw ParquetError(.badSchema, "'\(e.name)' has \(n) children") }
            for _ in 0..<n {
                guard next < elements.count else {
                    throw ParquetError(.badSchema, "'\(e.name)' claims \(n) children but the schema list ends")
                }
                let child = elements[next]
                next += 1
                node.children.append(try build(child, depth: depth + 1))
            }
            return node
        }
        let root = try build(rootElement, depth: 0)
        guard next == elements.count else {
            throw ParquetError(.badSchema, "\(elements.count - next) schema elements left after the root's children")
        }

        var leaves: [LeafColumn] = []
        var columns: [ParquetColumn] = []
        for top in root.children {
            var topLeaves: [(node: SchemaNode, path: [String], def: Int, rep: Int)] = []
            func walk(_ node: SchemaNode, _ path: [String], _ d: Int, _ r: Int) {
                let rep = node.element.repetition
                let dd = d + (rep == .optional || rep == .repeated ? 1 : 0)
                let rr = r + (rep == .repeated ? 1 : 0)
                let p = path + [node.element.name]
                if node.isGroup {
                    for c in node.children { walk(c, p, dd, rr) }
                } else {
                    topLeaves.append((node, p, dd, rr))
                }
            }
            walk(top, [], 0, 0)
            let shape = ParquetSchema.classify(top: top, leafCount: topLeaves.count,
                                               maxRep: topLeaves.first?.rep ?? 0)
            var indices: [Int] = []
            for l in topLeaves {
                let e = l.node.element
                guard let physical = e.type else {
                    throw ParquetError(.badSchema, "leaf '\(l.path.joined(separator: "."))' has unknown physical type \(e.rawType.map(String.init) ?? "(none)")")
                }
                let (vt, conv) = ParquetSchema.resolveType(e, physical: physical, path: l.path.joined(separator: "."))
                if physical == .fixedLenByteArray && (e.typeLength ?? 0) <= 0 {
                    throw ParquetError(.badSchema, "FIXED_LEN_BYTE_ARRAY leaf '\(l.path.joined(separator: "."))' without a positive type_length")
                }
                indices.append(leaves.count)
                leaves.append(LeafColumn(index: leaves.count, path: l.path, physical: physical,
                                         typeLength: Int(e.typeLength ?? 0), maxDef: l.def, maxRep: l.rep,
                                         shape: shape, valueType: vt, conversion: conv,
                                         logicalDescription: ParquetSchema.describeAnnotation(e),
                                         nullable: top.element.repetition != .required))
            }
            let name = top.element.name
            var type: ColumnType?
            var reason: String?
            if case .unsupported(let why) = shape {
                reason = why
            } else if let leaf = indices.first.map({ leaves[$0] }) {
                switch leaf.valueType {
                case .success(let t):
                    if case .list = shape { type = .list(t) } else { type = t }
                case .failure(let e): reason = e.detail
                }
            }
            columns.append(ParquetColumn(name: name, type: type, nullable: top.element.repetition != .required,
                                         unsupportedReason: reason, leafIndices: indices))
        }
        self.columns = columns
        self.leaves = leaves
    }

    /// Supported: a primitive, a LIST group of one repeated primitive or of one repeated
    /// group holding one primitive, or a bare repeated primitive.
    private static func classify(top: SchemaNode, leafCount: Int, maxRep: Int) -> LeafShape {
        if !top.isGroup {
            if top.element.repetition == .repeated { return .list(listDef: 0, elemDef: 1) }
            return .scalar
        }
        let name = top.element.name
        guard top.isListAnnotated else {
            return .unsupported("'\(name)' is a struct or map; only primitive and list-of-primitive columns are supported")
        }
        guard top.children.count == 1, let repeated = top.children.first, repeated.element.repetition == .repeated else {
            return .unsupported("'\(name)' is a malformed LIST (expected one repeated child)")
        }
        let listDef = top.element.repetition == .optional ? 1 : 0
        if repeated.isGroup {
            guard repeated.children.count == 1, let element = repeated.children.first, !element.isGroup else {
                return .unsupported("'\(name)' is a list of structs or of lists; only lists of primitives are supported")
            }
            if element.element.repetition == .repeated {
                return .unsupported("'\(name)' has a repeated list element")
            }
        }
        guard leafCount == 1, maxRep == 1 else {
            return .unsupported("'\(name)' is a nested list; only one level of lists is supported")
        }
        return .list(listDef: listDef, elemDef: listDef + 1)
    }

    static func resolveType(_ e: SchemaElement, physical: PhysicalType,
                            path: String) -> (Result<ColumnType, ParquetError>, ValueConversion) {
        func unsupported(_ what: String) -> (Result<ColumnType, ParquetError>, ValueConversion) {
            (.failure(ParquetError(.unsupportedType, "column '\(path)': \(what) is not supported", column: path)), .none)
        }
        func needs(_ p: PhysicalType, _ t: ColumnType, _ c: ValueConversion = .none) -> (Result<ColumnType, ParquetError>, ValueConversion) {
            physical == p ? (.success(t), c) : unsupported("annotation \(t) on physical type \(physical)")
        }
        if let logical = e.logicalType {
            switch logical {
            case .string, .enumeration, .json:
                return physical == .byteArray || physical == .fixedLenByteArray
                    ? (.success(.string), .none) : unsupported("string annotation on \(physical)")
            case .bson: return needs(.byteArray, .binary)
            case .date: return needs(.int32, .date)
            case .timestamp(let utc, let unit):
                return needs(.int64, .timestamp(isAdjustedToUTC: utc), unit == .nanos ? .none : .scaleToNanos(unit.nanosPerUnit))
            case .integer(let bits, let signed):
                if physical == .int32 {
                    if !signed && bits >= 32 { return (.success(.int64), .widenUInt32) }
                    return (.success(.int32), .none)
                }
                return needs(.int64, .int64)
            case .unknown: return (.success(.null), .none)
            case .decimal: return unsupported("DECIMAL")
            case .time: return unsupported("TIME")
            case .uuid: return unsupported("UUID")
            case .float16: return unsupported("FLOAT16")
            case .map, .list: return unsupported("a MAP/LIST annotation on a primitive")
            case .other(let id): return unsupported("logical type #\(id)")
            }
        }
        if let converted = e.convertedType {
            switch converted {
            case 0, 4, 19: return physical == .byteArray || physical == .fixedLenByteArray
                ? (.success(.string), .none) : unsupported("UTF8 annotation on \(physical)")
            case 20: return needs(.byteArray, .binary)
            case 6: return needs(.int32, .date)
            case 9: return needs(.int64, .timestamp(isAdjustedToUTC: true), .scaleToNanos(1_000_000))
            case 10: return needs(.int64, .timestamp(isAdjustedToUTC: true), .scaleToNanos(1_000))
            case 11, 12, 15, 16, 17: return needs(.int32, .int32)
            case 13: return needs(.int32, .int64, .widenUInt32)
            case 14, 18: return needs(.int64, .int64)
            case 5: return unsupported("DECIMAL")
            case 7, 8: return unsupported("TIME")
            case 21: return unsupported("INTERVAL")
            default: return unsupported("converted type #\(converted)")
            }
        }
        switch physical {
        case .boolean: return (.success(.boolean), .none)
        case .int32: return (.success(.int32), .none)
        case .int64: return (.success(.int64), .none)
        case .int96: return (.success(.timestamp(isAdjustedToUTC: true)), .int96)
        case .float: return (.success(.float), .none)
        case .double: return (.success(.double), .none)
        case .byteArray, .fixedLenByteArray: return (.success(.binary), .none)
        }
    }

    static func describeAnnotation(_ e: SchemaElement) -> String? {
        if let l = e.logicalType {
            switch l {
            case .timestamp(let utc, let unit): return "TIMESTAMP(\(unit), utc=\(utc))"
            case .integer(let b, let s): return "INTEGER(\(b), \(s ? "signed" : "unsigned"))"
            default: return "\(l)".uppercased()
            }
        }
        if let c = e.convertedType {
            let names = ["UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL", "DATE", "TIME_MILLIS",
                         "TIME_MICROS", "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS", "UINT_8", "UINT_16", "UINT_32",
                         "UINT_64", "INT_8", "INT_16", "INT_32", "INT_64", "JSON", "BSON", "INTERVAL"]
            return "converted:" + (c >= 0 && Int(c) < names.count ? names[Int(c)] : "#\(c)")
        }
        return nil
    }
}
