// Typed row-group statistics and time-range pruning.

/// A statistics bound decoded from its PLAIN bytes.
public enum StatisticsValue: Sendable, Equatable, CustomStringConvertible {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])

    public var description: String {
        switch self {
        case .bool(let b): return "\(b)"
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .bytes(let b):
            if let s = String(validating: b, as: UTF8.self) { return "\"\(s)\"" }
            return "0x" + b.prefix(32).map { String($0, radix: 16).leftPadded(2) }.joined()
        }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// Row-group statistics of one column, in the column's value units
/// (timestamps in nanoseconds, dates in days).
public struct ColumnStatistics: Sendable, Equatable {
    public var min: StatisticsValue?
    public var max: StatisticsValue?
    public var nullCount: Int64?
    public var distinctCount: Int64?
}

extension ParquetFile {
    /// Statistics of `column` in row group `g`, or nil when absent or unusable.
    public func statistics(rowGroup g: Int, column name: String) -> ColumnStatistics? {
        guard g >= 0, g < rowGroupCount, let col = schema.column(named: name), col.leafIndices.count == 1 else { return nil }
        let leaf = schema.leaves[col.leafIndices[0]]
        guard let st = metadata.rowGroups[g].columns[leaf.index].metaData?.statistics else { return nil }
        return ParquetFile.typedStatistics(st, leaf: leaf)
    }

    static func typedStatistics(_ st: Statistics, leaf: LeafColumn) -> ColumnStatistics {
        var out = ColumnStatistics(nullCount: st.nullCount, distinctCount: st.distinctCount)
        // The deprecated min/max are signed-order: usable only for signed numeric types.
        let signedOrder: Bool
        switch leaf.valueType {
        case .success(.int32), .success(.int64), .success(.date), .success(.timestamp), .success(.float), .success(.double):
            signedOrder = leaf.conversion != .widenUInt32 && leaf.conversion != .int96
        default: signedOrder = false
        }
        let lo = st.minValue ?? (signedOrder ? st.min : nil)
        let hi = st.maxValue ?? (signedOrder ? st.max : nil)
        if leaf.physical == .int96 { return out }  // undefined order; never prune on it
        out.min = lo.flatMap { decode($0, leaf: leaf) }
        out.max = hi.flatMap { decode($0, leaf: leaf) }
        return out
    }

    private static func decode(_ b: [UInt8], leaf: LeafColumn) -> StatisticsValue? {
        func le<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard b.count == MemoryLayout<T>.size else { return nil }
            return b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        switch leaf.physical {
        case .boolean: return b.count == 1 ? .bool(b[0] != 0) : nil
        case .int32:
            guard let v = le(Int32.self) else { return nil }
            return leaf.conversion == .widenUInt32 ? .int(Int64(UInt32(bitPattern: v))) : .int(Int64(v))
        case .int64:
            guard let v = le(Int64.self) else { return nil }
            if case .scaleToNanos(let f) = leaf.conversion {
                let (p, o) = v.multipliedReportingOverflow(by: f)
                return .int(o ? (v < 0 ? Int64.min : Int64.max) : p)
            }
            return .int(v)
        case .float: return le(UInt32.self).map { .double(Double(Float(bitPattern: $0))) }
        case .double: return le(UInt64.self).map { .double(Double(bitPattern: $0)) }
        case .int96: return nil
        case .byteArray, .fixedLenByteArray: return .bytes(b)
        }
    }

    /// Row groups that may hold rows with `timeColumn` within `range` (nanoseconds since
    /// the epoch, or days for a date column). Groups without usable statistics are kept.
    public func rowGroups(timeColumn: String, within range: ClosedRange<Int64>) -> [Int] {
        (0..<rowGroupCount).filter { g in
            guard let st = statistics(rowGroup: g, column: timeColumn) else { return true }
            if let n = st.nullCount, n >= Int64(rowGroupRowCount(g)), rowGroupRowCount(g) > 0 { return false }
            guard case .int(let lo)? = st.min, case .int(let hi)? = st.max else { return true }
            return !(hi < range.lowerBound || lo > range.upperBound)
        }
    }
}
