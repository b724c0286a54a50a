/// Resolves names across all definition files of a repo (entities, sources, views,
/// services) into `FeatureDefinitions`, reporting every broken reference.
struct DefinitionResolver {
    var errors: [RepoLoadError] = []
    /// "<kind>:<name>" of objects that exist but are broken; references to them fail quietly.
    private var broken: Set<String> = []

    mutating func resolve(project: String, files: [ParsedDefinitions]) -> FeatureDefinitions {
        var defs = FeatureDefinitions(project: project)
        broken = files.reduce(into: []) { $0.formUnion($1.brokenNames) }

        let entities = unique(files.flatMap(\.entities), kind: "entity", name: \.name)
        defs.entities = entities.map(\.0)

        // File and push sources share one namespace, as in Feast's registry.
        var sourceOrigins: [String: Origin] = [:]
        var fileSources: [String: FileSource] = [:]
        for (source, origin) in files.flatMap(\.fileSources) {
            guard claim(source.name, origin, kind: "data source", in: &sourceOrigins) else { continue }
            fileSources[source.name] = source
            defs.dataSources.append(.file(source))
        }
        for (push, origin) in files.flatMap(\.pushSources) {
            guard claim(push.name, origin, kind: "data source", in: &sourceOrigins) else { continue }
            guard let batch = fileSources[push.batchSource] else {
                broken.insert("data_source:\(push.name)")
                report(origin.error("batch_source", .unknownReference(
                    kind: "file source", name: push.batchSource, known: fileSources.keys.sorted())),
                       unlessBroken: "data_source:\(push.batchSource)")
                continue
            }
            defs.dataSources.append(.push(PushSource(name: push.name, batchSource: batch, description: push.description,
                                                     tags: push.tags, owner: push.owner)))
        }

        for (decl, origin) in unique(files.flatMap(\.featureViews), kind: "feature view", name: \.name) {
            if let view = featureView(decl, origin, defs) {
                defs.featureViews.append(view)
            } else {
                broken.insert("feature_view:\(decl.name)")
            }
        }
        for (decl, origin) in unique(files.flatMap(\.featureServices), kind: "feature service", name: \.name) {
            if let service = featureService(decl, origin, defs) { defs.featureServices.append(service) }
        }
        return defs
    }

    private mutating func report(_ error: RepoLoadError, unlessBroken reference: String) {
        if !broken.contains(reference) { errors.append(error) }
    }

    /// Keeps the first object of each name and reports later ones as duplicates.
    private mutating func unique<T>(_ items: [(T, Origin)], kind: String, name: KeyPath<T, String>) -> [(T, Origin)] {
        var seen: [String: Origin] = [:]
        return items.filter { claim($0.0[keyPath: name], $0.1, kind: kind, in: &seen) }
    }

    private mutating func claim(_ name: String, _ origin: Origin, kind: String, in seen: inout [String: Origin]) -> Bool {
        if let first = seen[name] {
            let place = first.line.map { "\(first.file):\($0)" } ?? first.file
            errors.append(origin.error("name", .duplicateName(kind: kind, name: name, firstDefinedIn: place)))
            return false
        }
        seen[name] = origin
        return true
    }

    private mutating func featureView(_ decl: ParsedDefinitions.ViewDecl, _ origin: Origin,
                                      _ defs: FeatureDefinitions) -> FeatureView? {
        var failed = false
        func fail(_ key: String, _ kind: RepoLoadError.Kind) {
            errors.append(origin.error(key, kind))
            failed = true
        }
        if decl.entities.isEmpty {
            fail("entities", .invalidValue("a feature view needs at least one entity (entity-less views are not supported)"))
        }
        var joinKeys: [(key: String, entity: Entity)] = []
        for name in decl.entities {
            guard let entity = defs.entity(named: name) else {
                if broken.contains("entity:\(name)") {
                    failed = true
                } else {
                    fail("entities", .unknownReference(kind: "entity", name: name, known: defs.entities.map(\.name)))
                }
                continue
            }
            joinKeys.append((entity.joinKey, entity))
        }
        var seenFields = Set<String>()
        for field in decl.schema where !seenFields.insert(field.name).inserted {
            fail("schema", .invalidValue("field '\(field.name)' appears more than once"))
        }
        // Schema columns named like a join key are the entity columns; the rest are features.
        let keyNames = Set(joinKeys.map(\.key))
        let features = decl.schema.filter { !keyNames.contains($0.name) }
        // Feast's order: join key columns in schema order, then join keys the schema leaves
        // out (typed from their entity), in entity order.
        var entityColumns = decl.schema.filter { keyNames.contains($0.name) }
        for (key, entity) in joinKeys {
            if let field = decl.schema.first(where: { $0.name == key }) {
                if let declared = entity.valueType, declared != field.type.valueType, !decl.untypedFields.contains(key) {
                    fail("schema", .invalidValue("join key '\(key)' has dtype \(field.type.name) but entity '\(entity.name)' "
                        + "has value_type \(declared.protoName)"))
                }
            } else if let declared = entity.valueType, let type = FeastType(valueType: declared) {
                entityColumns.append(Field(name: key, type: type))
            } else {
                fail("schema", .invalidValue("join key '\(key)' has no type: add it to the schema or give entity "
                    + "'\(entity.name)' a value_type"))
            }
        }
        if features.isEmpty {
            fail("schema", .invalidValue("the schema defines no features"))
        }
        guard let source = defs.dataSource(named: decl.source) else {
            report(origin.error("source", .unknownReference(kind: "data source", name: decl.source,
                                                            known: defs.dataSources.map(\.name))),
                   unlessBroken: "data_source:\(decl.source)")
            return nil
        }
        if failed { return nil }
        return FeatureView(name: decl.name, entities: decl.entities, features: features, entityColumns: entityColumns,
                           ttlSeconds: decl.ttlSeconds, online: decl.online, offline: decl.offline, source: source,
                           description: decl.description, tags: decl.tags, owner: decl.owner)
    }

    private mutating func featureService(_ decl: ParsedDefinitions.ServiceDecl, _ origin: Origin,
                                         _ defs: FeatureDefinitions) -> FeatureService? {
        var projections: [FeatureViewProjection] = []
        var failed = false
        for (index, p) in decl.projections.enumerated() {
            let key = "features[\(index)]"
            guard let view = defs.featureView(named: p.featureView) else {
                report(origin.error(key, .unknownReference(kind: "feature view", name: p.featureView,
                                                           known: defs.featureViews.map(\.name))),
                       unlessBroken: "feature_view:\(p.featureView)")
                failed = true
                continue
            }
            let selected = p.features ?? view.features.map(\.name)
            for feature in selected where view.feature(named: feature) == nil {
                errors.append(origin.error(key, .unknownFeature(view: view.name, feature: feature)))
                failed = true
            }
            projections.append(FeatureViewProjection(featureView: view.name, features: selected))
        }
        if failed { return nil }
        return FeatureService(name: decl.name, projections: projections, description: decl.description,
                              tags: decl.tags, owner: decl.owner)
    }
}
