import Foundation
import LarderFeatures

/// A feature view as the online read and write paths need it: its Feast layout (field names,
/// key encoder) computed once, the join keys with their types, and the ttl.
public final class ServingView: @unchecked Sendable {
    public let view: FeatureView
    public let layout: FeastOnlineLayout
    public let joinKeys: [String]
    public let joinKeyTypes: [FeastValueType]
    public let ttlSeconds: Int64
    /// Feature view index in the catalog, for per-view counters.
    public let index: Int
    /// `view:feature` of each feature, in schema order: the keys of FEATURES.GET's reply
    /// cells, built once per load rather than concatenated per row and feature.
    public let replyNames: [[UInt8]]

    init(view: FeatureView, joinKeys: [String], joinKeyTypes: [FeastValueType], version: EntityKeySerializationVersion, index: Int) {
        self.view = view
        self.layout = FeastOnlineLayout(view: view, joinKeys: joinKeys, version: version)
        self.joinKeys = joinKeys
        self.joinKeyTypes = joinKeyTypes
        self.ttlSeconds = view.ttlSeconds
        self.index = index
        replyNames = view.features.map { Array("\(view.name):\($0.name)".utf8) }
        // One INT64 join key (Feast's usual entity): a row's key is this prefix, the value's 8
        // little-endian bytes, then the project. Derived from the encoder itself with two
        // sample values and used only when both agree (measured reason: the general encoder,
        // a FeastValue array walk and three appends per value, was ~600 of the 33,300
        // instructions of a 1 x 10 FEATURES.GET, callgrind).
        var prefix: [UInt8]? = nil
        if joinKeys.count == 1 && joinKeyTypes[0] == .int64 {
            var a: [UInt8] = [], b: [UInt8] = []
            let x: Int64 = 0x0102_0304_0506_0708, y: Int64 = -2
            if (try? layout.keyEncoder.append(values: [.int64(x)], suffix: "", to: &a)) != nil,
               (try? layout.keyEncoder.append(values: [.int64(y)], suffix: "", to: &b)) != nil,
               a.count == b.count, a.count >= 8, a.dropLast(8) == b.dropLast(8),
               Array(a.suffix(8)) == withUnsafeBytes(of: x.littleEndian, Array.init),
               Array(b.suffix(8)) == withUnsafeBytes(of: y.littleEndian, Array.init) {
                prefix = Array(a.dropLast(8))
            }
        }
        int64KeyPrefix = prefix
    }

    /// See init: the key bytes before a single INT64 join key's value, or nil.
    let int64KeyPrefix: [UInt8]?

    public var name: String { view.name }
}

/// A failure to resolve a request against the definitions; `kind` maps to Feast's error
/// classes and HTTP codes, `message` names what and where.
public struct ServingError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        case featureViewNotFound, featureServiceNotFound, featureNotFound, pushSourceNotFound
        case badEntity, badValue, badRequest, nameCollision
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }

    /// Feast's error class for this kind (the `class` of its error body).
    public var feastClass: String {
        switch kind {
        case .featureViewNotFound: return "FeatureViewNotFoundException"
        case .featureServiceNotFound: return "FeatureServiceNotFoundException"
        case .pushSourceNotFound: return "PushSourceNotFoundException"
        case .featureNotFound: return "FeatureNotFoundException"
        case .nameCollision: return "FeatureNameCollisionError"
        case .badEntity, .badValue, .badRequest: return "ValueError"
        }
    }

    /// 404 for unknown objects, as Feast's FeastObjectNotFoundException; 400 otherwise.
    public var httpStatus: Int {
        switch kind {
        case .featureViewNotFound, .featureServiceNotFound, .pushSourceNotFound: return 404
        case .featureNotFound, .badEntity, .badValue, .badRequest, .nameCollision: return 400
        }
    }
}

/// The definitions one server serves, resolved for reading and writing. Immutable: a reload
/// builds a new catalog and swaps it in (ServingState).
public final class ServingCatalog: @unchecked Sendable {
    public let project: String
    /// `project` as bytes: the suffix of every Redis key of the project.
    let projectBytes: [UInt8]
    public let directory: String
    public let definitions: FeatureDefinitions
    public let views: [ServingView]
    public let keyTTLSeconds: Int?
    private let viewsByName: [String: ServingView]
    /// FEATURES.GET's resolved SERVICE/REFS arguments; dropped with the catalog on reload.
    let selectionCache = SelectionCache()
    let httpPlans = HTTPPlanCache()
    public let loadedAt: Date

    public init(repo: FeatureRepo, loadedAt: Date = Date()) throws {
        let defs = repo.definitions
        project = repo.config.project
        projectBytes = Array(repo.config.project.utf8)
        directory = repo.directory
        definitions = defs
        keyTTLSeconds = repo.config.onlineStore.keyTTLSeconds
        var views: [ServingView] = []
        for fv in defs.featureViews where fv.online {
            guard let joinKeys = defs.joinKeys(of: fv) else {
                throw ServingError(.badRequest, "feature view '\(fv.name)' uses an entity that is not defined")
            }
            var types: [FeastValueType] = []
            for (i, key) in joinKeys.enumerated() {
                let fromColumns = fv.entityColumns.first { $0.name == key }?.type.valueType
                let fromEntity = defs.entity(named: fv.entities[i])?.valueType
                types.append(fromColumns ?? fromEntity ?? .string)
            }
            views.append(ServingView(view: fv, joinKeys: joinKeys, joinKeyTypes: types,
                                     version: repo.config.entityKeySerializationVersion, index: views.count))
        }
        self.views = views
        viewsByName = Dictionary(views.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.loadedAt = loadedAt
    }

    /// Loads a repo directory through the one definitions loader every command uses.
    public static func load(directory: String) throws -> ServingCatalog {
        try ServingCatalog(repo: try FeatureRepoLoader().load(directory: directory))
    }

    public func view(named name: String) -> ServingView? { viewsByName[name] }

    /// Views fed by a push source (Feast's stream_source), in definition order.
    public func views(pushSource name: String) -> [ServingView] {
        views.filter { $0.view.pushSource?.name == name }
    }

    /// A feature selection from `view:feature` references.
    public func selection(refs: [String]) throws -> FeatureSelection {
        var groups: [(ServingView, [Int])] = []
        for ref in refs {
            guard let colon = ref.firstIndex(of: ":") else {
                throw ServingError(.badRequest, "feature reference '\(ref)' is not of the form feature_view:feature")
            }
            let viewName = String(ref[..<colon]), featureName = String(ref[ref.index(after: colon)...])
            guard let v = view(named: viewName) else {
                throw ServingError(.featureViewNotFound, "Feature view \(viewName) does not exist in project \(project)")
            }
            guard let fi = v.layout.featureNames.firstIndex(of: featureName) else {
                throw ServingError(.featureNotFound, "Feature \(featureName) does not exist in feature view \(viewName)")
            }
            if let g = groups.firstIndex(where: { $0.0 === v }) {
                if !groups[g].1.contains(fi) { groups[g].1.append(fi) }
            } else {
                groups.append((v, [fi]))
            }
        }
        return FeatureSelection(groups: groups.map { FeatureSelection.Group(view: $0.0, features: $0.1) }, service: nil)
    }

    public func selection(service name: String) throws -> FeatureSelection {
        guard let service = definitions.featureService(named: name) else {
            throw ServingError(.featureServiceNotFound, "Feature service \(name) does not exist in project \(project)")
        }
        var refs: [String] = []
        for p in service.projections {
            guard view(named: p.featureView) != nil else {
                throw ServingError(.featureViewNotFound, "Feature view \(p.featureView) does not exist in project \(project)")
            }
            refs.append(contentsOf: p.features.map { "\(p.featureView):\($0)" })
        }
        return FeatureSelection(groups: try selection(refs: refs).groups, service: name)
    }
}

/// Which features of which views a read returns, grouped by view (one hash read per entity
/// row and view), in request order.
///
/// A class, like its groups: a request takes it from the selection cache and hands it down;
/// as a struct of eight arrays its copies cost ~1,100 of a 1 x 10 FEATURES.GET's instructions
/// (value witness copies under callgrind).
public final class FeatureSelection: Sendable {
    /// A class, not a struct: a request's reads pass each group per (row, view), and a struct
    /// of seven arrays and a view costs seven retains and releases per copy (retains and
    /// releases in FEATURES.GET's own code were ~3,000 of the 38,995 instructions of a 1 x 10
    /// request under callgrind, with the per-request arrays').
    public final class Group: Sendable {
        public let view: ServingView
        /// Indexes into the view's features.
        public let features: [Int]
        /// The selected features' hash fields, then `_ts:<view>`, back to back.
        let fieldBytes: [UInt8]
        /// Start of each field in `fieldBytes`, and the end as the last element.
        let fieldStarts: [Int]
        /// The same fields in a probe table: a packed row hash is read in one pass (FieldIndex).
        let fieldIndex: FieldIndex
        /// Per selected feature `$<len>\r\n<view:feature>\r\n*3\r\n` (its FEATURES.GET map key and
        /// the cell's array header, the same bytes in RESP2 and RESP3), back to back; the start
        /// of each in `replyHeadStarts`, the end last.
        let replyHeads: [UInt8]
        let replyHeadStarts: [Int]

        init(view: ServingView, features: [Int]) {
            self.view = view
            self.features = features
            var bytes: [UInt8] = []
            var starts: [Int] = []
            for f in features { starts.append(bytes.count); bytes += view.layout.featureFields[f] }
            starts.append(bytes.count); bytes += view.layout.timestampField
            starts.append(bytes.count)
            fieldBytes = bytes
            fieldStarts = starts
            fieldIndex = FieldIndex(fieldBytes: bytes, starts: starts)
            var heads: [UInt8] = []
            var headStarts: [Int] = []
            for f in features {
                headStarts.append(heads.count)
                heads += Array("$\(view.replyNames[f].count)\r\n".utf8) + view.replyNames[f] + Array("\r\n*3\r\n".utf8)
            }
            headStarts.append(heads.count)
            replyHeads = heads
            replyHeadStarts = headStarts
        }
    }
    public let groups: [Group]
    public let service: String?
    /// The join keys the rows must give, in first-use order. Stored, not computed per request
    /// (measured reason: 1,500 of the 47,900 instructions of a 1 x 10 FEATURES.GET).
    public let joinKeys: [(name: String, type: FeastValueType)]
    public let featureCount: Int
    /// FEATURES.GET's join-key plan, made once per selection (measured reason: matching the
    /// given names as Strings per request was ~1,000 of the 34,600 instructions of a 1 x 10
    /// request, callgrind): the names' bytes, back to back (`joinKeyStarts`, the end last), each
    /// group's join keys as indexes into `joinKeys` (flat, in group order), and the groups
    /// whose join keys are `joinKeys` in order (bit per group, the first 64).
    let joinKeyBytes: [UInt8]
    let joinKeyStarts: [Int]
    let groupKeyIndexes: [Int]
    let inOrderGroups: Int

    public init(groups: [Group], service: String?) {
        self.groups = groups
        self.service = service
        var keys: [(name: String, type: FeastValueType)] = []
        for g in groups {
            for (i, k) in g.view.joinKeys.enumerated() where !keys.contains(where: { $0.name == k }) {
                keys.append((k, g.view.joinKeyTypes[i]))
            }
        }
        joinKeys = keys
        featureCount = groups.reduce(0) { $0 + $1.features.count }
        var bytes: [UInt8] = [], starts: [Int] = []
        for k in keys { starts.append(bytes.count); bytes += Array(k.name.utf8) }
        starts.append(bytes.count)
        joinKeyBytes = bytes
        joinKeyStarts = starts
        var indexes: [Int] = []
        var inOrder = 0
        for (gi, g) in groups.enumerated() {
            let mine = g.view.joinKeys.map { k in keys.firstIndex { $0.name == k }! }
            indexes += mine
            if mine == Array(keys.indices) && gi < Int.bitWidth { inOrder |= 1 << gi }
        }
        groupKeyIndexes = indexes
        inOrderGroups = inOrder
    }

    /// The index in `joinKeys` of the name in `arg`, compared as bytes; nil when none.
    @inline(__always)
    func joinKeyIndex(_ arg: UnsafeRawBufferPointer) -> Int? {
        joinKeyBytes.withUnsafeBytes { b in
            joinKeyStarts.withUnsafeBufferPointer { s in
                for x in 0..<(s.count - 1) where s[x + 1] - s[x] == arg.count {
                    if arg.count == 0 || memcmp(b.baseAddress! + s[x], arg.baseAddress!, arg.count) == 0 { return x }
                }
                return nil
            }
        }
    }
}
