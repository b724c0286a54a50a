/// Where a feature view's data lives in Feast's Redis layout: one hash per entity key and
/// project, with a 4-byte murmur3 field per feature and a `_ts:<view>` timestamp field.
/// Computed once per view so readers and writers do not hash names per row.
public struct FeastOnlineLayout: Sendable {
    public let view: String
    public let featureNames: [String]
    /// Hash field of each feature, in schema order (the order Feast writes them in HSET).
    public let featureFields: [[UInt8]]
    public let timestampField: [UInt8]
    public let keyEncoder: FeastEntityKeyEncoder

    public init(view: FeatureView, joinKeys: [String], version: EntityKeySerializationVersion = .v3) {
        self.view = view.name
        featureNames = view.features.map(\.name)
        featureFields = view.features.map { FeastKeyEncoder.featureFieldName(view: view.name, feature: $0.name) }
        timestampField = FeastKeyEncoder.timestampFieldName(view: view.name)
        keyEncoder = FeastEntityKeyEncoder(joinKeys: joinKeys, version: version)
    }

    /// The layout of a view of `repo`; nil if one of its entities is not defined.
    public init?(view: FeatureView, in definitions: FeatureDefinitions,
                 version: EntityKeySerializationVersion = .v3) {
        guard let joinKeys = definitions.joinKeys(of: view) else { return nil }
        self.init(view: view, joinKeys: joinKeys, version: version)
    }

    public func field(forFeature name: String) -> [UInt8]? {
        featureNames.firstIndex(of: name).map { featureFields[$0] }
    }
}

extension FeastValue {
    /// Decodes Value bytes held in any byte collection (copied once into an array).
    public static func decode<Bytes: Collection>(bytes: Bytes) throws -> FeastValue where Bytes.Element == UInt8 {
        try decode(Array(bytes))
    }

    /// Whether this value can be stored in a column of `type` (null fits every type).
    public func fits(_ type: FeastType) -> Bool {
        isNull || valueType == type.valueType
    }
}
