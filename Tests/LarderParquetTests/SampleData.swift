import Foundation
@testable import LarderParquet

/// A deterministic batch with every writable type, nulls, and list shapes (training-dataset like).
enum SampleData {
    static func batch(rows: Int, seed: UInt64 = 42) -> ColumnBatch {
        var rng = seed
        func next() -> UInt64 {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return rng >> 33
        }
        func bytesColumn(_ values: [[UInt8]?]) -> ColumnData {
            var b = ByteArrayColumn()
            for v in values { if let v { b.append(v) } else { b.appendEmpty() } }
            let validity = values.contains { $0 == nil } ? values.map { $0 != nil } : nil
            return ColumnData(type: .binary, values: .byteArray(b), validity: validity)
        }
        let idx = Array(0..<rows)
        var fields: [Field] = []
        var columns: [ColumnData] = []
        func add(_ name: String, _ c: ColumnData, nullable: Bool = true) {
            fields.append(Field(name: name, type: c.type, nullable: nullable))
            columns.append(c)
        }
        add("id", ColumnData(type: .int64, values: .int64(idx.map { Int64($0) * 7 - 3 })), nullable: false)
        let i32Valid = idx.map { $0 % 5 != 3 }
        add("i32", ColumnData(type: .int32, values: .int32(idx.map { i32Valid[$0] ? Int32(truncatingIfNeeded: Int64(next()) - (1 << 30)) : 0 }),
                              validity: i32Valid))
        add("i64_extremes", ColumnData(type: .int64, values: .int64(idx.map { [Int64.min, Int64.max, 0, -1][$0 % 4] })))
        let flagValid = idx.map { $0 % 7 != 0 }
        add("flag", ColumnData(type: .boolean, values: .boolean(idx.map { flagValid[$0] && next() % 2 == 0 }), validity: flagValid))
        add("f32", ColumnData(type: .float, values: .float(idx.map { i in
            [Float.nan, -0.0, .infinity][safe: i] ?? Float(Int64(next() % 20001) - 10000) / 7 })))
        add("f64", ColumnData(type: .double, values: .double(idx.map { i in
            [-Double.infinity, .nan, -0.0][safe: i] ?? Double(Int64(next() % 2_000_001) - 1_000_000) / 13 })))
        let names = ["alice", "bob", "", "日本語", "tab\tand\nnewline", "quote\"s", String(repeating: "x", count: 40)]
        var nameCol = ByteArrayColumn()
        let nameValid = idx.map { $0 % 4 != 1 }
        for i in idx { if nameValid[i] { nameCol.append(Array((names[i % names.count] + (i % 3 == 0 ? "\(i)" : "")).utf8)) } else { nameCol.appendEmpty() } }
        add("name", ColumnData(type: .string, values: .byteArray(nameCol), validity: nameValid))
        var cat = ByteArrayColumn()
        for i in idx { cat.append(Array(["red", "green", "blue"][i % 3].utf8)) }
        add("category", ColumnData(type: .string, values: .byteArray(cat)), nullable: false)
        add("blob", bytesColumn(idx.map { i in i % 6 == 5 ? nil : (0..<(i % 9)).map { _ in UInt8(next() & 0xff) } }))
        let base: Int64 = 1_704_067_200_000_000_000
        let tsValid = idx.map { $0 % 11 != 10 }
        add("event_timestamp", ColumnData(type: .timestamp(isAdjustedToUTC: true),
                                          values: .int64(idx.map { tsValid[$0] ? base + Int64($0) * 1_000_000_123 : 0 }), validity: tsValid))
        add("ts_naive", ColumnData(type: .timestamp(isAdjustedToUTC: false), values: .int64(idx.map { $0 == 0 ? -1_500_000_000_000_000_001 : base - Int64($0) * 86_400_000_000_000 })))
        add("day", ColumnData(type: .date, values: .int32(idx.map { $0 == 1 ? -719_162 : Int32(19_700 + $0 % 400) })))
        // list<float>: fixed length 4, never null.
        var embOffsets: [Int32] = [0]
        var emb: [Float] = []
        for _ in idx { for _ in 0..<4 { emb.append(Float(Int64(next() % 2000) - 1000) / 64) }; embOffsets.append(Int32(emb.count)) }
        add("emb", ColumnData(type: .list(.float), values: .list(ListColumn(offsets: embOffsets, elements: ColumnData(type: .float, values: .float(emb))))))
        // list<string>: null lists, empty lists, null elements.
        var tagOffsets: [Int32] = [0]
        var tags = ByteArrayColumn()
        var tagValid: [Bool] = []
        var listValid: [Bool] = []
        for i in idx {
            listValid.append(i % 9 != 4)
            if i % 9 != 4 && i % 9 != 2 {
                for k in 0..<(i % 4 + 1) {
                    let isNull = (i + k) % 5 == 0
                    tagValid.append(!isNull)
                    if isNull { tags.appendEmpty() } else { tags.append(Array("tag\((i * 3 + k) % 17)".utf8)) }
                }
            }
            tagOffsets.append(Int32(tags.count))
        }
        add("tags", ColumnData(type: .list(.string), values: .list(ListColumn(offsets: tagOffsets,
            elements: ColumnData(type: .string, values: .byteArray(tags), validity: tagValid))), validity: listValid))
        var histOffsets: [Int32] = [0]
        var hist: [Int64] = []
        for i in idx { for k in 0..<(i % 3) { hist.append(Int64(i * k) - 5) }; histOffsets.append(Int32(hist.count)) }
        add("hist", ColumnData(type: .list(.int64), values: .list(ListColumn(offsets: histOffsets, elements: ColumnData(type: .int64, values: .int64(hist))))), nullable: false)
        add("nothing", ColumnData(type: .null, values: .null(count: rows)))
        return ColumnBatch(fields: fields, columns: columns, rowCount: rows)
    }

    /// The row's value as JSON text, in the fixture conventions (timestamps in ns, binary base64).
    static func json(_ c: ColumnData, row: Int) -> String {
        if c.isNull(row) { return "null" }
        switch c.values {
        case .boolean(let a): return a[row] ? "true" : "false"
        case .int32(let a): return "\(a[row])"
        case .int64(let a): return "\(a[row])"
        case .float(let a): return floatJSON(Double(a[row]), a[row].description)
        case .double(let a): return floatJSON(a[row], a[row].description)
        case .byteArray(let b):
            if c.type == .binary { return "\"" + Data(b.value(at: row)).base64EncodedString() + "\"" }
            let data = (try? JSONSerialization.data(withJSONObject: [b.string(at: row)])) ?? Data("[null]".utf8)
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        case .list(let l):
            let items = (Int(l.offsets[row])..<Int(l.offsets[row + 1])).map { json(l.elements, row: $0) }
            return "[" + items.joined(separator: ",") + "]"
        case .null: return "null"
        }
    }

    private static func floatJSON(_ d: Double, _ text: String) -> String {
        if d.isNaN { return "\"NaN\"" }
        if d.isInfinite { return d > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        return text
    }

    static func expectedJSON(_ batch: ColumnBatch) -> String {
        var parts: [String] = []
        for (f, c) in zip(batch.fields, batch.columns) {
            let rows = (0..<batch.rowCount).map { json(c, row: $0) }
            parts.append("\"\(f.name)\": {\"type\": \"\(f.type)\", \"values\": [" + rows.joined(separator: ",") + "]}")
        }
        return "{\"num_rows\": \(batch.rowCount), \"columns\": {" + parts.joined(separator: ",\n") + "}}"
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
