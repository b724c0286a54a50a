import LarderFeatures

/// Pushed rows (columns by name: join keys, the event timestamp, features) turned into the
/// Feast encoding of each target view. Shared by FEATURES.PUSH (text values) and HTTP
/// /push and /write-to-online-store (JSON `df` columns).
public enum PushRows {
    /// A view by name, or every view fed by a push source of that name.
    public static func targetViews(_ name: String, catalog: ServingCatalog) throws -> [ServingView] {
        if let v = catalog.view(named: name) { return [v] }
        let views = catalog.views(pushSource: name)
        if views.isEmpty {
            throw ServingError(.pushSourceNotFound, "no feature view or push source named \(name) in project \(catalog.project)")
        }
        return views
    }

    public static func pushSourceViews(_ name: String, catalog: ServingCatalog) throws -> [ServingView] {
        let views = catalog.views(pushSource: name)
        if views.isEmpty && catalog.definitions.dataSource(named: name) == nil {
            throw ServingError(.pushSourceNotFound, "Push source \(name) does not exist in project \(catalog.project)")
        }
        return views
    }

    /// Where each of a view's columns is among `columns` (nil: not given).
    struct ColumnMap {
        let joinKeys: [Int]
        let timestamp: Int
        let features: [Int?]
    }

    static func map(columns: [String], view: ServingView) throws -> ColumnMap {
        var joinKeys: [Int] = []
        for k in view.joinKeys {
            guard let i = columns.firstIndex(of: k) else {
                throw ServingError(.badEntity, "join key column \(k) of feature view \(view.name) is missing (columns: \(columns.joined(separator: ", ")))")
            }
            joinKeys.append(i)
        }
        let source = view.view.source.batchSource
        guard let ts = columns.firstIndex(of: source.timestampField) ?? columns.firstIndex(of: "event_timestamp") else {
            throw ServingError(.badValue, "timestamp column \(source.timestampField) of feature view \(view.name) is missing")
        }
        let known = Set(view.joinKeys + view.layout.featureNames + [source.timestampField, "event_timestamp"]
                        + (source.createdTimestampColumn.map { [$0] } ?? []))
        if let unknown = columns.first(where: { !known.contains($0) }) {
            throw ServingError(.featureNotFound, "column \(unknown) is not a join key, timestamp or feature of feature view \(view.name)")
        }
        return ColumnMap(joinKeys: joinKeys, timestamp: ts, features: view.layout.featureNames.map { columns.firstIndex(of: $0) })
    }

    public static func encodeText(columns: [String], rows: [[[UInt8]]], view: ServingView, project: String) throws -> [EncodedRow] {
        let m = try map(columns: columns, view: view)
        return try rows.enumerated().map { r, row in
            let keyValues = try zip(view.joinKeys, m.joinKeys).enumerated().map { j, pair in
                try ValueText.entityValue(row[pair.1], type: view.joinKeyTypes[j], joinKey: pair.0)
            }
            let tsText = String(decoding: row[m.timestamp], as: UTF8.self)
            guard let ts = ValueText.timestamp(tsText) else {
                throw ServingError(.badValue, "row \(r + 1): event timestamp '\(tsText)' is neither epoch seconds nor RFC 3339")
            }
            let values = try view.view.features.enumerated().map { f, field -> [UInt8] in
                guard let c = m.features[f] else { return [] }
                return try ValueText.featureValue(row[c], type: field.type, name: field.name).encoded()
            }
            return EncodedRow(key: try FeatureRead.key(view: view, values: keyValues, project: project), eventTime: ts, values: values)
        }
    }

    /// `df` as Feast's push request has it: an object of equally long column arrays.
    public static func encodeJSON(df: [(String, JSONValue)], view: ServingView, project: String) throws -> [EncodedRow] {
        let columns = df.map(\.0)
        var arrays: [[JSONValue]] = []
        for (name, v) in df {
            guard case .array(let items) = v else { throw ServingError(.badRequest, "df column \(name) is not an array") }
            arrays.append(items)
        }
        let rows = arrays.first?.count ?? 0
        if let bad = arrays.firstIndex(where: { $0.count != rows }) {
            throw ServingError(.badRequest, "df column \(columns[bad]) has \(arrays[bad].count) values, \(columns[0]) has \(rows)")
        }
        let m = try map(columns: columns, view: view)
        return try (0..<rows).map { r in
            let keyValues = try zip(view.joinKeys, m.joinKeys).enumerated().map { j, pair in
                try JSONFeastValue.entity(arrays[pair.1][r], type: view.joinKeyTypes[j], joinKey: pair.0)
            }
            let ts: ProtoTimestamp?
            switch arrays[m.timestamp][r] {
            case .string(let s): ts = ValueText.timestamp(s)
            case .number(let n): ts = ValueText.timestamp(n)
            default: ts = nil
            }
            guard let ts else {
                throw ServingError(.badValue, "row \(r + 1): event timestamp \(JSONFeastValue.describe(arrays[m.timestamp][r])) is neither epoch seconds nor RFC 3339")
            }
            let values = try view.view.features.enumerated().map { f, field -> [UInt8] in
                guard let c = m.features[f] else { return [] }
                return try JSONFeastValue.feature(arrays[c][r], type: field.type, name: field.name).encoded()
            }
            return EncodedRow(key: try FeatureRead.key(view: view, values: keyValues, project: project), eventTime: ts, values: values)
        }
    }
}
