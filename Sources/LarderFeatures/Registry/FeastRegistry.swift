import Foundation

/// One materialized time window of a feature view, as recorded in Feast's registry.
public struct MaterializationInterval: Equatable, Codable, Sendable {
    public var start: ProtoTimestamp
    public var end: ProtoTimestamp

    public init(start: ProtoTimestamp, end: ProtoTimestamp) {
        self.start = start
        self.end = end
    }
}


/// The content of a Feast `registry.db` for one project, in Larder's model.
public struct FeastRegistry: Equatable, Sendable {
    public var definitions: FeatureDefinitions
    /// Feature view name → materialized windows (FeatureViewMeta.materialization_intervals).
    public var materializationIntervals: [String: [MaterializationInterval]]
    public var registrySchemaVersion: String
    /// A new UUID on every registry write.
    public var versionID: String
    public var lastUpdated: ProtoTimestamp?
    /// Every project in the registry file.
    public var projects: [String]
    /// Objects of the project that Larder cannot represent, with the reason, e.g.
    /// "on_demand_feature_view 'x': on-demand feature views are not supported". They are left out.
    public var skipped: [String]
}

public enum FeastRegistryError: Error, Equatable, CustomStringConvertible, Sendable {
    case unreadable(path: String, reason: String)
    case noProject
    case ambiguousProject([String])
    case unknownProject(String, available: [String])
    case decode(ProtoDecodeError)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read Feast registry \(path): \(reason)"
        case .noProject: return "the Feast registry defines no project"
        case .ambiguousProject(let projects):
            return "the Feast registry holds several projects (\(projects.joined(separator: ", "))); choose one"
        case let .unknownProject(project, available):
            return "project '\(project)' is not in the Feast registry (it has: \(available.joined(separator: ", ")))"
        case .decode(let error): return "invalid Feast registry: \(error)"
        }
    }
}
