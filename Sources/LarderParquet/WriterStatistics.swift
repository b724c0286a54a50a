// Column-chunk statistics for the writer, and row slicing of columns.

extension ChunkWriter {
    /// min/max over the non-null values (NaN excluded), PLAIN-encoded; the deprecated
    /// min/max pair too for signed numeric types, as pyarrow does.
    static func statistics(_ d: DenseValues, leaf: WriterLeaf, nullCount: Int) -> Statistics {
        var st = Statistics()
        st.nullCount = Int64(nullCount)
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        func set(_ lo: [UInt8], _ hi: [UInt8], signed: Bool) {
            st.minValue = lo
            st.maxValue = hi
            if signed { st.min = lo; st.max = hi }
        }
        if leaf.valueType == .null { return st }
        switch leaf.physical {
        case .boolean:
            guard !d.bools.isEmpty else { return st }
            let lo: UInt8 = d.bools.contains(false) ? 0 : 1
            let hi: UInt8 = d.bools.contains(true) ? 1 : 0
            set([lo], [hi], signed: false)
        case .int32:
            guard let lo = d.i32.min(), let hi = d.i32.max() else { return st }
            set(le(lo), le(hi), signed: true)
        case .int64, .int96:
            guard let lo = d.i64.min(), let hi = d.i64.max() else { return st }
            set(le(lo), le(hi), signed: true)
        case .float:
            let finite = d.f32.lazy.filter { !$0.isNaN }
            guard var lo = finite.min(), var hi = finite.max() else { return st }
            // Parquet rule: a zero minimum is written as -0.0 and a zero maximum as +0.0.
            if lo == 0 { lo = -0.0 }
            if hi == 0 { hi = 0.0 }
            set(le(lo.bitPattern), le(hi.bitPattern), signed: true)
        case .double:
            let finite = d.f64.lazy.filter { !$0.isNaN }
            guard var lo = finite.min(), var hi = finite.max() else { return st }
            if lo == 0 { lo = -0.0 }
            if hi == 0 { hi = 0.0 }
            set(le(lo.bitPattern), le(hi.bitPattern), signed: true)
        case .byteArray, .fixedLenByteArray:
            let b = d.bytes
            guard b.count > 0 else { return st }
            var lo = 0, hi = 0
            for i in 1..<b.count {
                if b.value(at: i).lexicographicallyPrecedes(b.value(at: lo)) { lo = i }
                if b.value(at: hi).lexicographicallyPrecedes(b.value(at: i)) { hi = i }
            }
            let minBytes = Array(b.value(at: lo)), maxBytes = Array(b.value(at: hi))
            // Very long bounds would bloat the footer; leave them out.
            if minBytes.count <= 4096 && maxBytes.count <= 4096 { set(minBytes, maxBytes, signed: false) }
        }
        return st
    }
}

extension ColumnData {
    /// Rows `range` of this column as a new column.
    public func slice(_ range: Range<Int>) -> ColumnData {
        let validity = self.validity.map { Array($0[range]) }
        let values: ColumnValues
        switch self.values {
        case .boolean(let a): values = .boolean(Array(a[range]))
        case .int32(let a): values = .int32(Array(a[range]))
        case .int64(let a): values = .int64(Array(a[range]))
        case .float(let a): values = .float(Array(a[range]))
        case .double(let a): values = .double(Array(a[range]))
        case .null: values = .null(count: range.count)
        case .byteArray(let b):
            let base = b.offsets[range.lowerBound]
            let offsets = b.offsets[range.lowerBound...range.upperBound].map { $0 - base }
            let bytes = Array(b.bytes[Int(base)..<Int(b.offsets[range.upperBound])])
            values = .byteArray(ByteArrayColumn(offsets: offsets, bytes: bytes))
        case .list(let l):
            let a = Int(l.offsets[range.lowerBound]), z = Int(l.offsets[range.upperBound])
            let offsets = l.offsets[range.lowerBound...range.upperBound].map { $0 - Int32(a) }
            values = .list(ListColumn(offsets: offsets, elements: l.elements.slice(a..<z)))
        }
        return ColumnData(type: type, values: values, validity: validity)
    }
}
