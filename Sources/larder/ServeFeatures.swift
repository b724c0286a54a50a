import Foundation
import LarderLog
import LarderServer
import LarderServing

/// `larder serve --repo R`: the repo's definitions behind the FEATURES.* commands and the
/// HTTP feature server, and SIGHUP to reload them.
struct ServeFeatures {
    let state: ServingState
    var http: HTTPFeatureServer?
    var sighup: DispatchSourceSignal?

    /// Loads the definitions (before the server starts, so a bad repo stops start-up).
    static func load(repo: String, enforceTTL: Bool) throws -> ServingState {
        ServingState(catalog: try ServingCatalog.load(directory: repo), repoDirectory: repo, enforceTTLByDefault: enforceTTL)
    }

    /// Says at start what `--repo` loaded (the definitions) and, without `--materialize`,
    /// what it did not (the feature data) and how to load it: a silent start left operators
    /// reading empty features without knowing why.
    func announce(materialize: Bool) {
        let catalog = state.catalog, d = catalog.definitions
        let loaded = "loaded the definitions of project \(catalog.project) from \(state.repoDirectory): \(d.featureViews.count) feature view(s) "
                + "(\(catalog.views.count) online), \(d.entities.count) entities, \(d.featureServices.count) feature service(s)"
        LarderLog.server.notice("\(loaded)", metadata: ["event": "definitions_loaded", "views": .stringConvertible(d.featureViews.count),
                       "entities": .stringConvertible(d.entities.count), "services": .stringConvertible(d.featureServices.count)])
        guard !materialize else { return }
        let missing = "feature data not loaded (no --materialize): FEATURES.GET and the HTTP server answer from what the store holds; "
                + "load it with `larder serve --repo \(state.repoDirectory) --materialize` "
                + "or `larder materialize \(state.repoDirectory) START END --target redis://HOST:PORT`"
        LarderLog.server.notice("\(missing)", metadata: ["event": "data_not_loaded"])
    }

    /// Starts the HTTP server and the SIGHUP reload once the RESP server is running.
    mutating func start(server: LarderServer, host: String, httpPort: Int?, maxBody: Int, ready: @escaping () -> Bool) throws {
        if let httpPort {
            let api = HTTPFeatureAPI(server: server.state, serving: state)
            api.isReady = ready
            api.materializer = ServeMaterializer(server: server, repoDirectory: state.repoDirectory)
            let h = HTTPFeatureServer(api: api, server: server, maxBodyBytes: maxBody)
            let bound = try h.start(host: host, port: httpPort)
            print("larder: serving HTTP features on \(host):\(bound)")
            http = h
            // The HTTP port closes first when the server stops: its requests read the shards.
            server.onStopping = { h.stop() }
        }
        // The process's only SIGHUP source when serving features (ServeCommand then makes none):
        // with a second source for the same signal (the TLS one), the definitions were sometimes
        // not reloaded (test_reload_swaps_definitions_and_a_failing_one_keeps_the_old waited 20 s
        // in vain in 5 of 13 runs on this branch, the base's binary 0 of 3; 0 of 3 after).
        signal(SIGHUP, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let state = self.state
        let serverState = server.state
        src.setEventHandler {
            do { try serverState.reloadTLS() } catch {
                LarderLog.server.warning("SIGHUP: TLS reload refused, the previous certificates stay: \(error)",
                                         metadata: ["event": "tls_config_refused"])
            }
            switch state.reload() {
            case .success(let c): print("larder: definitions reloaded from \(state.repoDirectory): \(c.views.count) view(s)")
            case .failure(let e):
                FileHandle.standardError.write("larder: reload failed, the previous definitions keep serving: \(e)\n".data(using: .utf8)!)
            }
            fflush(stdout)
        }
        src.resume()
        sighup = src
    }
}

/// GET /ready: false until start-up loading (--materialize) has finished.
final class ReadyFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Bool
    init(_ v: Bool) { value = v }
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
