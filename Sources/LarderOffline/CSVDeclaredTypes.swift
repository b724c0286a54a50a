import LarderFeatures
import LarderParquet

extension CSVColumnType {
    /// The column model type a declared CSV column is read as.
    public var columnType: ColumnType {
        switch self {
        case .string: return .string
        case .bytes: return .binary
        case .int32: return .int32
        case .int64: return .int64
        case .float32: return .float
        case .float64: return .double
        case .bool: return .boolean
        case .date: return .date
        case .timestamp: return .timestamp(isAdjustedToUTC: true)
        case .timestampNaive: return .timestamp(isAdjustedToUTC: false)
        }
    }
}
