// Levels + dense values of a column chunk -> one ColumnData per row group (Arrow layout:
// every slot present, nulls zero-filled, validity mask only when there are nulls).

extension ChunkContents {
    /// Consumes the collected arrays (moved out, so no copy-on-write copies follow).
    mutating func assemble(leaf: LeafColumn, rows: Int) throws -> ColumnData {
        let valueType = try leaf.valueType.get()
        switch leaf.shape {
        case .unsupported(let why):
            throw ParquetError(.unsupportedNested, why)
        case .scalar:
            var (values, validity) = try scalarSlots(leaf: leaf, rows: rows)
            return try finish(leaf: leaf, type: valueType, values: &values, validity: validity, slots: rows)
        case .list(let listDef, let elemDef):
            return try assembleList(leaf: leaf, rows: rows, listDef: listDef, elemDef: elemDef, elementType: valueType)
        }
    }

    private mutating func scalarSlots(leaf: LeafColumn, rows: Int) throws -> (ColumnValues, [Bool]?) {
        let dense = values.count(leaf.physical)
        if leaf.maxDef == 0 {
            guard dense == rows, levelCount == rows else {
                throw ParquetError(.badPage, "required column holds \(dense) values, the row group has \(rows) rows")
            }
            return (materialize(mask: nil, slots: rows, physical: leaf.physical), nil)
        }
        guard defLevels.count == rows else {
            throw ParquetError(.badPage, "column holds \(defLevels.count) values (incl. nulls), the row group has \(rows) rows")
        }
        if dense == rows { return (materialize(mask: nil, slots: rows, physical: leaf.physical), nil) }
        let top = UInt8(leaf.maxDef)
        let mask = defLevels.map { $0 == top }
        return (materialize(mask: mask, slots: rows, physical: leaf.physical), mask)
    }

    private mutating func assembleList(leaf: LeafColumn, rows: Int, listDef: Int, elemDef: Int,
                              elementType: ColumnType) throws -> ColumnData {
        guard repLevels.count == levelCount, defLevels.count == levelCount else {
            throw ParquetError(.badPage, "list column has \(repLevels.count) repetition and \(defLevels.count) definition levels for \(levelCount) entries")
        }
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(rows + 1)
        var listValid: [Bool] = []
        listValid.reserveCapacity(rows)
        var elementValid: [Bool] = []
        elementValid.reserveCapacity(levelCount)
        var anyNullList = false
        var anyNullElement = false
        let maxDef = leaf.maxDef
        var elements: Int32 = 0
        for i in 0..<levelCount {
            let r = repLevels[i], d = Int(defLevels[i])
            if r == 0 {
                if i > 0 { offsets.append(elements) }
                if d < listDef {
                    listValid.append(false)
                    anyNullList = true
                    continue
                }
                listValid.append(true)
                if d == listDef { continue }
            } else {
                guard i > 0, d >= elemDef else {
                    throw ParquetError(.badPage, "list levels out of order at entry \(i) (repetition \(r), definition \(d))")
                }
            }
            let valid = d == maxDef
            if !valid { anyNullElement = true }
            elementValid.append(valid)
            elements += 1
        }
        if levelCount > 0 { offsets.append(elements) }
        guard listValid.count == rows else {
            throw ParquetError(.badPage, "list column holds \(listValid.count) rows, the row group has \(rows)")
        }
        let slots = Int(elements)
        let dense = values.count(leaf.physical)
        let expectedDense = anyNullElement ? elementValid.reduce(0) { $0 + ($1 ? 1 : 0) } : slots
        guard dense == expectedDense else {
            throw ParquetError(.badPage, "list column holds \(dense) values for \(expectedDense) non-null elements")
        }
        let mask = anyNullElement ? elementValid : nil
        var childValues = materialize(mask: mask, slots: slots, physical: leaf.physical)
        let child = try finish(leaf: leaf, type: elementType, values: &childValues, validity: mask, slots: slots)
        return ColumnData(type: .list(elementType), values: .list(ListColumn(offsets: offsets, elements: child)),
                          validity: anyNullList ? listValid : nil)
    }

    /// Dense values -> `slots` slots, zero-filled where `mask` is false.
    private mutating func materialize(mask: [Bool]?, slots: Int, physical: PhysicalType) -> ColumnValues {
        switch physical {
        case .boolean: let a = values.bools; values.bools = []; return .boolean(scatter(a, mask, slots, false))
        case .int32: let a = values.i32; values.i32 = []; return .int32(scatter(a, mask, slots, 0))
        case .int64, .int96: let a = values.i64; values.i64 = []; return .int64(scatter(a, mask, slots, 0))
        case .float: let a = values.f32; values.f32 = []; return .float(scatter(a, mask, slots, 0))
        case .double: let a = values.f64; values.f64 = []; return .double(scatter(a, mask, slots, 0))
        case .byteArray, .fixedLenByteArray:
            guard let mask else { let b = values.bytes; values.bytes = ByteArrayColumn(); return .byteArray(b) }
            // Nulls become empty values: only the offsets need spreading out.
            var offsets: [Int32] = [0]
            offsets.reserveCapacity(slots + 1)
            var k = 0
            let src = values.bytes.offsets
            for valid in mask {
                if valid { k += 1 }
                offsets.append(src[k])
            }
            return .byteArray(ByteArrayColumn(offsets: offsets, bytes: values.bytes.bytes))
        }
    }

    private func scatter<T>(_ dense: [T], _ mask: [Bool]?, _ slots: Int, _ zero: T) -> [T] {
        guard let mask else { return dense }
        var out = [T](repeating: zero, count: slots)
        var k = 0
        out.withUnsafeMutableBufferPointer { dst in
            dense.withUnsafeBufferPointer { src in
                for i in 0..<slots where mask[i] {
                    dst[i] = src[k]
                    k += 1
                }
            }
        }
        return out
    }

    /// Applies the logical conversion (timestamp units, unsigned widening, null type).
    private func finish(leaf: LeafColumn, type: ColumnType, values v: inout ColumnValues, validity: [Bool]?,
                        slots: Int) throws -> ColumnData {
        if type == .null { return ColumnData(type: .null, values: .null(count: slots)) }
        switch leaf.conversion {
        case .none, .int96: break
        case .scaleToNanos(let factor):
            if case .int64(var a) = v {
                v = .null(count: 0)
                var overflow = false
                a.withUnsafeMutableBufferPointer { buf in
                    for i in buf.indices {
                        let (p, o) = buf[i].multipliedReportingOverflow(by: factor)
                        buf[i] = p
                        overflow = overflow || o
                    }
                }
                if overflow {
                    throw ParquetError(.valueOutOfRange, "a timestamp (\(factor) ns per unit) is outside the range of Int64 nanoseconds (years 1677-2262)")
                }
                v = .int64(a)
            }
        case .widenUInt32:
            if case .int32(let a) = v { v = .int64(a.map { Int64(UInt32(bitPattern: $0)) }) }
        }
        let out = v
        v = .null(count: 0)
        return ColumnData(type: type, values: out, validity: validity)
    }
}
