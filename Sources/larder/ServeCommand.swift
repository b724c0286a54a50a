import ArgumentParser
import Foundation
import LarderBuildInfo
import LarderLog
import LarderServer
import LarderServing
import LarderStore
import LarderTLS
import NIOCore

struct ServeCommand: ParsableCommand {
    /// The configuration file's settings that have no option (RuntimeSetting), read by the
    /// first parse and applied by the merged one.
    nonisolated(unsafe) static var fileRuntimeSettings: [RuntimeSetting] = []

    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Redis protocol (RESP2/RESP3) from an in-memory, per-core sharded store.")

    @Argument(help: ArgumentHelp("A Redis-style configuration file: `name value` lines with the long option names (docker/larder.conf); options given on the command line win.",
                                 valueName: "configfile"))
    var configFile: String?
    /// Set when the file's settings have been merged into this parse.
    @Flag(name: .customLong("config-file-applied"), help: .hidden) var configFileApplied = false
    @Option(help: "TCP port (0 with --tls-port: no plaintext listener, as Redis).") var port: Int = 6379
    @Option(name: .customLong("tls-port"), help: "TLS port, beside the plaintext one (docs/security.md).") var tlsPort: Int?
    @Option(name: .customLong("tls-cert-file"), help: "The server's certificate (PEM, chain allowed).") var tlsCertFile: String?
    @Option(name: .customLong("tls-key-file"), help: "The server's private key (PEM).") var tlsKeyFile: String?
    @Option(name: .customLong("tls-key-file-pass"), help: "Passphrase of an encrypted --tls-key-file (better in the config file: flags show in ps).")
    var tlsKeyFilePass: String?
    @Option(name: .customLong("tls-ca-cert-file"), help: "CA certificates (PEM) that sign client certificates.") var tlsCaCertFile: String?
    @Option(name: .customLong("tls-ca-cert-dir"), help: "A directory of CA certificates (c_rehash layout).") var tlsCaCertDir: String?
    @Option(name: .customLong("tls-auth-clients"), help: "yes: clients must present a certificate signed by the CA; optional: verified if presented; no.")
    var tlsAuthClients: TLSAuthArgument = .yes
    @Option(name: .customLong("tls-protocols"), help: "Protocols accepted, among TLSv1 TLSv1.1 TLSv1.2 TLSv1.3.") var tlsProtocols = "TLSv1.2 TLSv1.3"
    @Option(name: .customLong("tls-ciphers"), help: "OpenSSL cipher list for TLSv1.2 and below.") var tlsCiphers: String?
    @Option(name: .customLong("tls-ciphersuites"), help: "OpenSSL ciphersuites for TLSv1.3.") var tlsCiphersuites: String?
    @Option(name: .customLong("tls-prefer-server-ciphers"), help: "yes: the server's cipher order wins.")
    var tlsPreferServerCiphers: YesNo = .no
    @Option(name: .customLong("tls-handshake-timeout"), help: "Milliseconds a TLS client may take to finish its handshake before it is closed.")
    var tlsHandshakeTimeout: Int = 10_000
    @Option(help: "Address to listen on.") var bind: String = "127.0.0.1"
    @Option(help: "Worker threads, one shard each (default: number of cores).") var threads: Int = System.coreCount
    @Flag(inversion: .prefixedNo, help: "Pin each worker thread to a core.") var pin: Bool = true
    @Option(help: "I/O engine of the shard threads and the RESP port, on Linux: uring (Larder's own io_uring loop; epoll where the kernel does not run it) or epoll (Larder's own epoll loop). Default: $LARDER_IO, else uring. (Elsewhere: nio, SwiftNIO.)")
    var io: IOEngine?
    @Option(help: "Require clients to AUTH with this password (a flag shows in ps: prefer --requirepass-file, $LARDER_REQUIREPASS or the config file).")
    var requirepass: String?
    @Option(name: .customLong("requirepass-file"), help: ArgumentHelp("Read `requirepass` from the first line of this file (a mounted Kubernetes Secret).", valueName: "path"))
    var requirepassFile: String?
    @Option(name: .customLong("tls-key-file-pass-file"), help: ArgumentHelp("Read `tls-key-file-pass` from the first line of this file.", valueName: "path"))
    var tlsKeyFilePassFile: String?
    @Option(help: ArgumentHelp("ACL users file (Redis' `aclfile`): `user NAME rules...` lines; ACL LOAD / ACL SAVE read and write it. Not together with --user.", valueName: "path"))
    var aclfile: String?
    @Option(help: ArgumentHelp("An ACL user, as a Redis config file `user` line without the keyword: \"NAME on #<sha256> ~feast:* +@read\"; repeatable. Prefer --aclfile (a flag shows in ps).", valueName: "name rules"))
    var user: [String] = []
    @Option(name: .customLong("acllog-max-len"), help: "Entries kept by ACL LOG.") var acllogMaxLen: Int = 128
    @Option(name: .customLong("protected-mode"),
            help: "yes: without a password, only clients from loopback addresses are served (as Redis).")
    var protectedMode: YesNo = .yes
    @Option(name: .customLong("enable-debug-command"),
            help: "Who may run DEBUG: no (default, as Redis 7), yes, or local (clients from loopback addresses).")
    var enableDebugCommand: DebugPermission = .no
    @Option(name: .customLong("proto-max-bulk-len"), help: "Largest bulk string a client may send, in bytes.")
    var protoMaxBulkLen = MemorySize(512 * 1024 * 1024)
    @Option(name: .customLong("proto-max-multibulk-len"), help: "Largest number of arguments in one command.")
    var protoMaxMultibulkLen: Int = Int(Int32.max)
    @Option(name: .customLong("client-query-buffer-limit"), help: "Largest pending request of one client, in bytes.")
    var clientQueryBufferLimit = MemorySize(1024 * 1024 * 1024)
    @Option(help: "Largest number of connected clients.") var maxclients: Int = 10000
    @Option(name: .customLong("notify-keyspace-events"), help: "Keyspace notifications published (Redis' classes: K E g $ l s h z x e t m d n A; \"\" = none).")
    var notifyKeyspaceEvents: String = ""
    @Option(help: "Close clients idle for this many seconds (0 = never).") var timeout: Int = 0
    @Option(name: .customLong("tcp-keepalive"), help: "TCP keepalive idle seconds (0 = off).") var tcpKeepalive: Int = 300
    @Option(help: "Directory SAVE writes its snapshot to (Redis' `dir`).") var dir: String = "."
    @Option(help: "File name of the snapshot in --dir (Redis' `dbfilename`).") var dbfilename: String = "dump.rdb"
    @Option(help: ArgumentHelp("Save points, as Redis' `save`: \"3600 1 300 100\" snapshots after 3600 s if 1 write, after 300 s if 100; repeatable (they add up), \"\" clears. Default: none (no automatic snapshot, none at shutdown).",
                               valueName: "seconds changes ..."))
    var save: [String] = []
    @Option(help: "Largest memory the process may use (Redis units: 4gb, 512mb); over it, writes evict keys or get -OOM (--maxmemory-policy). 0 = no limit.")
    var maxmemory = MemorySize(0)
    @Option(name: .customLong("maxmemory-policy"), help: "What a write over maxmemory does, as Redis: noeviction (-OOM), allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl.")
    var maxmemoryPolicy: String = "noeviction"
    @Option(name: .customLong("maxmemory-samples"), help: "Keys sampled per database per eviction (more: closer to true LRU/LFU, slower).")
    var maxmemorySamples: Int = 5
    @Option(name: .customLong("maxmemory-eviction-tenacity"), help: "How long one write may spend evicting (0-100; 10: 500 us, 100: no limit).")
    var maxmemoryEvictionTenacity: Int = 10
    @Option(name: .customLong("lfu-log-factor"), help: "LFU counter's logarithm factor (Redis' default 10).")
    var lfuLogFactor: Int = 10
    @Option(name: .customLong("lfu-decay-time"), help: "Minutes for the LFU counter to decay by one (0: never).")
    var lfuDecayTime: Int = 1
    @Option(name: .customLong("stop-writes-on-bgsave-error"),
            help: "yes: while save points are set and the last background snapshot failed, writes get -MISCONF (as Redis).")
    var stopWritesOnBgsaveError: YesNo = .yes
    @Option(help: "yes: log every write to the append-only file (Redis 7's multi-part layout in --dir/--appenddirname) and replay it at start-up.")
    var appendonly: YesNo = .no
    @Option(help: "When the append-only file is fsynced: always (before each reply), everysec, no (left to the kernel).")
    var appendfsync: String = "everysec"
    @Option(help: "Directory of the append-only file's parts, inside --dir.") var appenddirname: String = "appendonlydir"
    @Option(help: "Base name of the append-only file's parts.") var appendfilename: String = "appendonly.aof"
    @Option(name: .customLong("aof-load-truncated"),
            help: "yes: a last incr file cut off mid-command is truncated to its last complete command with a warning; no: the start is refused.")
    var aofLoadTruncated: YesNo = .yes
    @Option(name: .customLong("aof-use-rdb-preamble"), help: "yes: a rewrite writes the base as an RDB snapshot (Redis 7's default); no: as commands (.base.aof).")
    var aofUseRdbPreamble: YesNo = .yes
    @Option(name: .customLong("cluster-enabled"),
            help: "yes: Redis Cluster mode, this node serves the slots its topology gives it and redirects the rest (docs/cluster.md); no: one node answering for every slot.")
    var clusterEnabled: YesNo = .no
    @Option(name: .customLong("cluster-config"),
            help: ArgumentHelp("The cluster topology (JSON, docs/cluster.md), read at start-up and rewritten by CLUSTER LARDER.SETTOPOLOGY; implies --cluster-enabled yes. A missing file starts the node unconfigured.", valueName: "file"))
    var clusterConfig: String?
    @Option(name: .customLong("cluster-node-id"),
            help: "This node's id in the topology (default: a random id each start, fit only for topologies pushed after start-up).")
    var clusterNodeId: String?
    @Option(name: .customLong("cluster-migration-user"),
            help: "User this node authenticates as on the target of a slot migration (with --cluster-migration-password).")
    var clusterMigrationUser: String?
    @Option(name: .customLong("cluster-migration-password"),
            help: "Password this node gives the target of a slot migration (AUTH; the target's requirepass or that user's).")
    var clusterMigrationPassword: String?
    @Option(help: "Feature repo whose definitions FEATURES.* and the HTTP feature server serve (and --materialize loads).")
    var repo: String?
    @Option(name: .customLong("http-port"), help: "HTTP feature server port (Feast's `feast serve` API), with --repo.")
    var httpPort: Int = 6566
    @Flag(name: .customLong("no-http"), help: "Do not start the HTTP feature server.") var noHTTP = false
    @Option(name: .customLong("http-max-body"), help: "Largest HTTP request body, in bytes.") var httpMaxBody: Int = 8 * 1024 * 1024
    @Flag(name: .customLong("ttl-enforcement"), inversion: .prefixedNo,
          help: "Serve values older than their view's ttl as OUTSIDE_MAX_AGE (off: Feast's exact behaviour).")
    var ttlEnforcement = true
    @Flag(help: "Materialize the repo's online views (from the epoch to now) into the store before serving.")
    var materialize = false
    @OptionGroup var logging: LogOptions

    /// The save points `--save` gives: each value adds its pairs, "" clears those before it.
    var savePoints: [SavePoint] {
        save.reduce(into: []) { points, value in
            if value.trimmingCharacters(in: .whitespaces).isEmpty { points = [] } else { points += SavePoint.parse(value) ?? [] }
        }
    }

    func validate() throws {
        if EvictionPolicy(name: maxmemoryPolicy) == nil {
            throw ValidationError("--maxmemory-policy '\(maxmemoryPolicy)': argument(s) must be one of the following: "
                                  + EvictionPolicy.allCases.map(\.name).joined(separator: ", "))
        }
        if maxmemorySamples < 1 || maxmemorySamples > Int(Int32.max) {
            throw ValidationError("--maxmemory-samples must be between 1 and 2147483647 inclusive: got \(maxmemorySamples)")
        }
        if !(0...100).contains(maxmemoryEvictionTenacity) {
            throw ValidationError("--maxmemory-eviction-tenacity must be between 0 and 100 inclusive: got \(maxmemoryEvictionTenacity)")
        }
        for (option, value) in [("--lfu-log-factor", lfuLogFactor), ("--lfu-decay-time", lfuDecayTime)] where value < 0 || value > Int(Int32.max) {
            throw ValidationError("\(option) must be between 0 and 2147483647 inclusive: got \(value)")
        }
        for value in save where SavePoint.parse(value) == nil {
            throw ValidationError("--save takes pairs of whole numbers, seconds then changes (\"3600 1 300 100\"), or \"\": got '\(value)'")
        }
        if KeyspaceEventFlags(text: notifyKeyspaceEvents) == nil {
            throw ValidationError("--notify-keyspace-events '\(notifyKeyspaceEvents)': invalid event class character; use 'Ag$lshzxeKEtmdn'")
        }
        if tlsHandshakeTimeout < 1 { throw ValidationError("--tls-handshake-timeout must be at least 1 (milliseconds)") }
        if dbfilename.isEmpty || dbfilename.contains("/") {
            throw ValidationError("--dbfilename must be a file name, not a path: '\(dbfilename)'")
        }
        if AppendFsync(name: appendfsync) == nil {
            throw ValidationError("--appendfsync must be always, everysec or no: got '\(appendfsync)'")
        }
        for (option, value) in [("--appenddirname", appenddirname), ("--appendfilename", appendfilename)]
        where value.isEmpty || value.contains("/") || value == "." || value == ".." {
            throw ValidationError("\(option) must be a file name, not a path: '\(value)'")
        }
        if let clusterNodeId, (try? ClusterTopology.check(.init(id: clusterNodeId, ip: "127.0.0.1", port: 1), "--cluster-node-id")) == nil {
            throw ValidationError("--cluster-node-id '\(clusterNodeId)' must be 1 to 64 letters, digits, '-' or '_'")
        }
    }

    /// Checked once the configuration file and the command line are merged (a file's `dir`
    /// may be overridden by --dir), so not in `validate`, which also checks each file line.
    func checkMerged() throws {
        // Here, not in `validate`: a config file's `port 0` is checked alone, before its `tls-port`.
        if port == 0 && tlsPort == nil {
            FileHandle.standardError.write("larder serve: --port 0 without --tls-port: configured to not listen anywhere\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) || !isDir.boolValue {
            FileHandle.standardError.write("larder serve: --dir '\(dir)' is not an existing directory\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }

    func run() throws {
        ProcessMemory.fixAllocatorThresholdsForServing()
        if let configFile, !configFileApplied {
            let merged: ServeCommand
            do {
                let entries = try ConfigFile.read(configFile)
                let (fileArguments, runtime) = try ConfigFile.arguments(entries, check: { words in
                    do {
                        // A value the option does not take would be read as the file name.
                        let parsed = try ServeCommand.parse(words)
                        return parsed.configFile == nil ? nil : "Unexpected argument '\(parsed.configFile!)'"
                    } catch { return ServeCommand.message(for: error) }
                }, runtime: RuntimeSetting.check)
                Self.fileRuntimeSettings = runtime
                // The file first: for an option given twice, the later (command line) value wins.
                let given = CommandLine.arguments.drop { $0 != "serve" }.dropFirst()
                merged = try ServeCommand.parse(fileArguments + given + ["--config-file-applied"])
            } catch let failure as ConfigFile.Failure {
                FileHandle.standardError.write("larder serve: \(failure)\n".data(using: .utf8)!)
                throw ExitCode(1)
            }
            try merged.run()
            return
        }
        try checkMerged()
        let secrets: Secrets
        do { secrets = try resolveSecrets() } catch let failure as SecretFailure {
            FileHandle.standardError.write("larder serve: \(failure.message)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
        let settings = ServerSettings(
            port: port, bind: bind, threads: threads, pinThreads: pin, requirePass: secrets.requirePass,
            protoMaxBulkLength: protoMaxBulkLen.bytes, protoMaxMultibulkLength: protoMaxMultibulkLen,
            clientQueryBufferLimit: clientQueryBufferLimit.bytes, maxClients: maxclients,
            idleTimeout: timeout, tcpKeepalive: tcpKeepalive, protectedMode: protectedMode == .yes,
            dir: dir, dbFilename: dbfilename, savePoints: savePoints,
            stopWritesOnSaveError: stopWritesOnBgsaveError == .yes, maxMemory: maxmemory.bytes,
            aclFile: aclfile, configUsers: user, aclLogMaxLength: acllogMaxLen,
            listenPlain: port != 0, tlsPort: tlsPort, tls: secrets.tls, tlsHandshakeTimeout: tlsHandshakeTimeout)
        settings.build = (BuildInfo.version, BuildInfo.commit)
        for setting in Self.fileRuntimeSettings { setting.apply(settings) }
        if let configFile {
            settings.configFile = URL(fileURLWithPath: configFile).standardizedFileURL.path
            settings.commandLineSettings = Self.commandLineSettings(Array(CommandLine.arguments.drop { $0 != "serve" }.dropFirst()))
        }
        settings.enableDebugCommand = ServerSettings.ProtectedConfig(rawValue: enableDebugCommand.rawValue)!
        // $LARDER_IO lets a whole test run (every server it starts) pick the engine.
        if let io {
            settings.ioEngine = io
            settings.ioEngineOrigin = .flag
        } else if let env = ProcessInfo.processInfo.environment["LARDER_IO"], !env.isEmpty {
            guard let engine = IOEngine(argument: env) else {
                FileHandle.standardError.write("larder serve: LARDER_IO=\(env) is not an I/O engine here (\(IOEngine.selectableNames))\(IOEngine.retiredNote(env))\n".data(using: .utf8)!)
                throw ExitCode(1)
            }
            settings.ioEngine = engine
            settings.ioEngineOrigin = .environment
        }
        settings.clusterEnabled = clusterEnabled == .yes || clusterConfig != nil
        settings.clusterNodeId = clusterNodeId
        settings.clusterMigrationUser = clusterMigrationUser
        settings.clusterMigrationPassword = clusterMigrationPassword
        settings.clusterConfigFile = clusterConfig.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        settings.notifyKeyspaceEvents.store(KeyspaceEventFlags(text: notifyKeyspaceEvents)?.rawValue ?? 0, ordering: .relaxed)
        settings.setMaxMemoryPolicy(EvictionPolicy(name: maxmemoryPolicy)!)
        settings.maxMemorySamples.store(maxmemorySamples, ordering: .relaxed)
        settings.evictionTenacity.store(maxmemoryEvictionTenacity, ordering: .relaxed)
        KeyAccess.lfuLogFactor.store(lfuLogFactor, ordering: .relaxed)
        KeyAccess.lfuDecayTime.store(lfuDecayTime, ordering: .relaxed)
        settings.aof.isEnabled = appendonly == .yes
        settings.aof.fsync = AppendFsync(name: appendfsync)!
        settings.aof.dirname = appenddirname
        settings.aof.filename = appendfilename
        settings.aof.loadsTruncated = aofLoadTruncated == .yes
        settings.aof.useRDBPreamble.store(aofUseRdbPreamble == .yes, ordering: .relaxed)
        logging.bootstrap()
        LarderLog.server.notice("larder starting", metadata: LogOptions.buildMetadata.merging(["event": "starting"]) { $1 })
        LarderLog.server.info("configuration", metadata: settings.logMetadata.merging(
            ["config_file": .string(configFile ?? "none"), "event": "configuration", "repo": .string(repo ?? "none"), "materialize": .stringConvertible(materialize),
             "log_format": .string(logging.logFormat), "log_level": .string(logging.logLevel)]) { $1 })
        for (name, source) in secrets.sources {
            LarderLog.server.info("\(name) read from \(source)", metadata: ["event": "secret_source", "setting": .string(name), "source": .string(source)])
        }
        var features: ServeFeatures?
        if let repo {
            do {
                features = ServeFeatures(state: try ServeFeatures.load(repo: repo, enforceTTL: ttlEnforcement))
                features?.announce(materialize: materialize)
            } catch {
                throw CLIOutput.fail("serve --repo", error)
            }
        }
        let server = LarderServer(settings: settings, extraCommands: features.map { FeatureFamily.commands($0.state) } ?? [])
        if let features { server.state.moduleInfoSections = [("features", features.state.infoFields)] }
        let loaded = ReadyFlag(!materialize)
        let bound: Int
        do {
            bound = try server.start(keepLoading: materialize)
        } catch let error as ACLFileError {
            // Redis: "Aborting Redis startup because of ACL errors: ..."
            LarderLog.server.error("Aborting startup because of ACL errors: \(error)", metadata: ["event": "acl_load_failed"])
            FileHandle.standardError.write("larder serve: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        } catch let error as TLSError {
            LarderLog.server.error("TLS: \(error)", metadata: ["event": "tls_config_refused"])
            FileHandle.standardError.write("larder serve: TLS: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        } catch let error as ClusterTopology.Invalid {
            LarderLog.server.error("cluster: \(error)", metadata: ["event": "cluster_config_refused"])
            FileHandle.standardError.write("larder serve: cluster: \(error)\n".data(using: .utf8)!)
            throw ExitCode(1)
        } catch let error as SnapshotLoadError {
            LarderLog.server.error("\(error)", metadata: ["event": "rdb_load_failed"])
            throw ExitCode(1)
        } catch {
            LarderLog.server.error("\(ListenFailure.message(host: bind, port: port, error))", metadata: ["event": "listen_failed"])
            throw ExitCode(1)
        }
        if features != nil {
            do {
                try features!.start(server: server, host: bind, httpPort: noHTTP ? nil : httpPort, maxBody: httpMaxBody,
                                    ready: { loaded.isSet })
            } catch {
                FileHandle.standardError.write("larder: HTTP \(ListenFailure.message(host: bind, port: httpPort, error))\n".data(using: .utf8)!)
                server.stop()
                throw ExitCode(1)
            }
        }
        if materialize {
            guard let repo else {
                FileHandle.standardError.write("larder: --materialize needs --repo\n".data(using: .utf8)!)
                server.stop()
                throw ExitCode(1)
            }
            do {
                try EmbeddedMaterialize.run(repo: repo, into: server, metrics: features?.state.metrics.materializations)
            } catch {
                LarderLog.server.error("serve --materialize failed: \(error)", metadata: ["event": "materialize_failed"])
                server.stop()
                throw CLIOutput.fail("serve --materialize", error)
            }
        }
        if materialize { server.finishLoading() }
        loaded.set()
        let tlsNote = tlsPort == nil ? "" : (port == 0 ? "TLS only, " : "") + "TLS on \(bind):\(server.state.boundTLSPort), "
        print("larder: serving RESP on \(bind):\(bound) with \(tlsNote)\(settings.threads) shard thread(s)")
        fflush(stdout)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        // SIGHUP: read the TLS certificate, key and CA files again (rotation without restart).
        // With --repo, ServeFeatures' source does it with the definitions reload: one source
        // per signal (two sources for SIGHUP each saw only some of the signals).
        var reload: DispatchSourceSignal?
        if features == nil {
            signal(SIGHUP, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            source.setEventHandler {
                do { try server.state.reloadTLS() } catch {
                    LarderLog.server.warning("SIGHUP: TLS reload refused, the previous certificates stay: \(error)",
                                             metadata: ["event": "tls_config_refused"])
                }
            }
            source.resume()
            reload = source
        }
        let signals = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler {
                LarderLog.server.notice("received \(sig == SIGTERM ? "SIGTERM" : "SIGINT"), scheduling shutdown",
                                        metadata: ["event": "signal"])
                server.shutdownOnSignal()
            }
            src.resume()
            return src
        }
        // Keep the signal sources alive until the server stops: an optimized build would
        // otherwise free them right after creation, and SIGTERM would be ignored.
        withExtendedLifetime((signals, reload, features)) { server.waitUntilStopped() }
        features?.http?.stop()
        print("larder: stopped")
        if server.exitStatus != 0 { throw ExitCode(server.exitStatus) }
    }
}

/// `--tls-auth-clients yes|no|optional`.
enum TLSAuthArgument: String, ExpressibleByArgument {
    case yes, no, optional
    init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

extension ServeCommand {
    var tlsConfiguration: TLSConfiguration {
        TLSConfiguration(certFile: tlsCertFile, keyFile: tlsKeyFile, keyFilePass: tlsKeyFilePass,
                         caCertFile: tlsCaCertFile, caCertDir: tlsCaCertDir,
                         verifyPeer: TLSClientAuth(rawValue: tlsAuthClients.rawValue) ?? .yes,
                         protocols: tlsProtocols, ciphers: tlsCiphers, ciphersuites: tlsCiphersuites,
                         preferServerCiphers: tlsPreferServerCiphers == .yes)
    }
}

/// A Redis-style boolean option value.
enum DebugPermission: String, ExpressibleByArgument {
    case yes, no, local
    init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

extension IOEngine: ExpressibleByArgument {
    /// Only the engines of this platform (`IOEngine.selectable`): on Linux, `nio` is refused.
    public init?(argument: String) {
        guard let engine = IOEngine(rawValue: argument.lowercased()), IOEngine.selectable.contains(engine) else { return nil }
        self = engine
    }
    public static var allValueStrings: [String] { selectable.map(\.rawValue) }
    static var selectableNames: String { selectable.map(\.rawValue).joined(separator: ", ") }
    /// Why a known engine is refused here (nio on Linux), for the error.
    static func retiredNote(_ name: String) -> String {
        guard let engine = IOEngine(rawValue: name.lowercased()), !selectable.contains(engine) else { return "" }
        return engine == .nio ? ": nio left the RESP path on Linux, where io_uring (epoll where the kernel refuses it) serves it" : ""
    }
}

enum YesNo: String, ExpressibleByArgument {
    case yes, no
    init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// A byte count with Redis' units (1k = 1000, 1kb = 1024, m/mb, g/gb; any case), as in redis.conf.
struct MemorySize: ExpressibleByArgument {
    let bytes: Int
    init(_ bytes: Int) { self.bytes = bytes }
    init?(argument: String) {
        let digits = argument.prefix { $0.isASCII && $0.isNumber }
        let multipliers: [String: Int] = ["": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1_000_000,
                                          "mb": 1024 * 1024, "g": 1_000_000_000, "gb": 1024 * 1024 * 1024]
        guard let mul = multipliers[argument.dropFirst(digits.count).lowercased()], let v = Int(digits) else { return nil }
        let (r, overflow) = v.multipliedReportingOverflow(by: mul)
        if overflow { return nil }
        bytes = r
    }
    var defaultValueDescription: String { String(bytes) }
}
