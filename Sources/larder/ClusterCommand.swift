import ArgumentParser
import Foundation
import LarderOffline
import LarderServer

/// `larder cluster make|check|push|status`: the operator's side of the managed cluster mode
/// (docs/cluster.md). Nodes hold no consensus protocol; this tool writes a topology, checks
/// it, hands it to every node with CLUSTER LARDER.SETTOPOLOGY, and drives slot migrations.
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Make, check, push and show a Larder cluster topology.",
        subcommands: [Make.self, Check.self, Push.self, Status.self, Migrate.self, Reshard.self, Id.self])

    struct Make: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a topology of N primaries with the 16384 slots split evenly (as redis-cli --cluster create).")
        @Argument(help: ArgumentHelp("The nodes' addresses, host:port, one shard each.", valueName: "host:port"))
        var nodes: [String]
        @Option(help: ArgumentHelp("Ids from these names instead of from host:port (e.g. StatefulSet pod names), in the same order; comma separated.", valueName: "names"))
        var idsFrom: String?

        func run() throws {
            let names = idsFrom.map { $0.split(separator: ",").map(String.init) }
            if let names, names.count != nodes.count {
                throw ValidationError("--ids-from names \(names.count) nodes, but \(nodes.count) addresses were given")
            }
            var list: [ClusterTopology.Node] = []
            for (i, a) in nodes.enumerated() {
                let (host, port) = try ClusterCommand.hostPort(a)
                list.append(.init(id: ClusterTopology.nodeId(for: names?[i] ?? a), ip: host, port: port))
            }
            let t = ClusterTopology.evenlySplit(list)
            do { try t.validate() } catch { throw CLIOutput.fail("cluster make", error) }
            print(t.json, terminator: "")
        }
    }

    struct Id: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the node id `make` derives from a name (a pod name with --ids-from, or host:port).")
        @Argument(help: "The name.") var name: String
        func run() throws { print(ClusterTopology.nodeId(for: name)) }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a topology file; exit 1 naming the first problem.")
        @Argument(help: "The topology file (JSON).") var file: String
        @Option(name: .customLong("node-id"), help: "Also require this node id to be in it.") var nodeId: String?

        func run() throws {
            let t = try ClusterCommand.load(file)
            do { try t.validate(myId: nodeId) } catch {
                FileHandle.standardError.write("larder cluster check: \(file): \(error)\n".data(using: .utf8)!)
                throw ExitCode(1)
            }
            print("\(file): ok, \(t.shards.count) shard(s), \(t.nodes.count) node(s), 16384 slots covered")
        }
    }

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give the topology to every node it names (CLUSTER LARDER.SETTOPOLOGY), after checking each node's CLUSTER MYID is the id the file gives its address.")
        @Argument(help: "The topology file (JSON).") var file: String
        @Option(help: "Password for AUTH (the nodes' requirepass or an admin user's).") var password: String?
        @Option(help: "User for AUTH with --password.") var user: String?

        func run() throws {
            let t = try ClusterCommand.load(file)
            do { try t.validate() } catch {
                FileHandle.standardError.write("larder cluster push: \(file): \(error)\n".data(using: .utf8)!)
                throw ExitCode(1)
            }
            let json = Array(t.json.utf8)
            // Every id first, so a wrong address refuses the push before any node changes.
            var clients: [(ClusterTopology.Node, RESPClient)] = []
            for n in t.nodes {
                let c = try ClusterCommand.connect(n, user: user, password: password)
                let reply = try c.call([Array("CLUSTER".utf8), Array("MYID".utf8)])
                guard case .bulk(let id) = reply else {
                    throw CLIOutput.fail("cluster push", RESPClientError("\(n.address): CLUSTER MYID answered \(reply)"))
                }
                guard String(decoding: id, as: UTF8.self) == n.id else {
                    throw CLIOutput.fail("cluster push", RESPClientError(
                        "\(n.address) has node id \(String(decoding: id, as: UTF8.self)), the file names it \(n.id) (start it with --cluster-node-id \(n.id))"))
                }
                clients.append((n, c))
            }
            var failed = false
            for (n, c) in clients {
                let reply = try c.call([Array("CLUSTER".utf8), Array("LARDER.SETTOPOLOGY".utf8), json])
                if case .error(let e) = reply {
                    print("\(n.address) \(n.id): refused: \(e)"); failed = true
                } else {
                    print("\(n.address) \(n.id): ok")
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask each node of a topology for its CLUSTER INFO state and whether it holds this topology.")
        @Argument(help: "The topology file (JSON).") var file: String
        @Option(help: "Password for AUTH.") var password: String?
        @Option(help: "User for AUTH with --password.") var user: String?

        func run() throws {
            let t = try ClusterCommand.load(file)
            var bad = false
            for n in t.nodes {
                do {
                    let c = try ClusterCommand.connect(n, user: user, password: password)
                    let info = try c.call([Array("CLUSTER".utf8), Array("INFO".utf8)])
                    let keys = try c.call([Array("DBSIZE".utf8)])
                    let held = try c.call([Array("CLUSTER".utf8), Array("LARDER.TOPOLOGY".utf8)])
                    var state = "?"
                    if case .bulk(let b) = info, let line = String(decoding: b, as: UTF8.self).split(separator: "\r\n").first {
                        state = String(line)
                    } else if case .verbatim(_, let b) = info, let line = String(decoding: b, as: UTF8.self).split(separator: "\r\n").first {
                        state = String(line)
                    }
                    var same = false
                    if case .bulk(let j) = held, let theirs = try? ClusterTopology.parse(json: j) { same = theirs == t }
                    if !same { bad = true }
                    var count: Int64 = -1
                    if case .integer(let k) = keys { count = k }
                    print("\(n.address) \(n.id): \(state) keys:\(count) topology:\(same ? "current" : "differs")")
                } catch {
                    bad = true
                    print("\(n.address) \(n.id): unreachable: \(error)")
                }
            }
            if bad { throw ExitCode(1) }
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move slot ranges from one master to another while both serve (CLUSTER LARDER.MIGRATE), wait for the handover, then push the new topology to every node.")
        @Option(help: ArgumentHelp("The source master.", valueName: "host:port")) var from: String
        @Option(help: ArgumentHelp("The target master's node id (CLUSTER MYID).", valueName: "node-id")) var to: String
        @Option(help: ArgumentHelp("Slots to move: ranges and single slots, comma-separated (0-2730,5000).", valueName: "ranges")) var slots: String
        @Option(help: "Give up waiting after this many seconds (the migration itself goes on).") var timeout: Double = 600
        @Option(help: "Password for AUTH.") var password: String?
        @Option(help: "User for AUTH with --password.") var user: String?

        func run() throws {
            var ranges: [ClusterTopology.SlotRange] = []
            for part in slots.split(separator: ",") {
                let ends = part.split(separator: "-", omittingEmptySubsequences: false)
                guard (1...2).contains(ends.count), let a = Int(ends[0]), let b = Int(ends[ends.count - 1]) else {
                    throw ValidationError("--slots: '\(part)' is not a slot or a start-end range")
                }
                ranges.append(.init(a, b))
            }
            let (host, port) = try ClusterCommand.hostPort(from)
            try ClusterCommand.migrate(from: .init(id: "", ip: host, port: port), to: to, ranges: ranges,
                                       timeout: timeout, user: user, password: password)
        }
    }

    struct Reshard: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move slots until the cluster's masters own what a topology file gives them: masters new to the cluster join with no slots, then each source's slots go to each target in turn (as migrate), then every node gets the file's topology.")
        @Argument(help: "The wanted topology (JSON); its masters' ids and addresses are those of the running nodes.") var file: String
        @Option(help: ArgumentHelp("A node to read the current topology from (default: the file's first master).", valueName: "host:port")) var from: String?
        @Option(help: "Give up waiting for one migration after this many seconds.") var timeout: Double = 600
        @Option(help: "Password for AUTH.") var password: String?
        @Option(help: "User for AUTH with --password.") var user: String?

        func run() throws {
            let wanted = try ClusterCommand.load(file)
            do { try wanted.validate() } catch {
                FileHandle.standardError.write("larder cluster reshard: \(file): \(error)\n".data(using: .utf8)!)
                throw ExitCode(1)
            }
            let seed: ClusterTopology.Node
            if let from { let (h, p) = try ClusterCommand.hostPort(from); seed = .init(id: "", ip: h, port: p) } else { seed = wanted.shards[0].primary }
            guard case .bulk(let json) = try ClusterCommand.connect(seed, user: user, password: password)
                .call([Array("CLUSTER".utf8), Array("LARDER.TOPOLOGY".utf8)]) else {
                throw CLIOutput.fail("cluster reshard", RESPClientError("\(seed.address) has no topology"))
            }
            var current = try ClusterTopology.parse(json: json)
            // Masters new to the cluster first join with no slots, so they can be migration targets.
            let known = Set(current.shards.map { $0.primary.id })
            let joining = wanted.shards.filter { !known.contains($0.primary.id) }
            if !joining.isEmpty {
                for s in joining { current.shards.append(.init(slotRanges: [], primary: s.primary, replicas: [])) }
                print("adding \(joining.map { $0.primary.address }.joined(separator: ", ")) with no slots")
                try ClusterCommand.pushAll(current, user: user, password: password)
            }
            func owners(_ t: ClusterTopology) -> [String] {
                var o = [String](repeating: "", count: ClusterTopology.slotCount)
                for s in t.shards { for r in s.slotRanges { for slot in r.start...r.end { o[slot] = s.primary.id } } }
                return o
            }
            let now = owners(current), then = owners(wanted)
            var moves: [(from: String, to: String, slots: [Int])] = []
            for slot in 0..<ClusterTopology.slotCount where now[slot] != then[slot] {
                if let i = moves.firstIndex(where: { $0.from == now[slot] && $0.to == then[slot] }) { moves[i].slots.append(slot) }
                else { moves.append((now[slot], then[slot], [slot])) }
            }
            for m in moves {
                guard let source = current.shards.first(where: { $0.primary.id == m.from })?.primary else { continue }
                try ClusterCommand.migrate(from: source, to: m.to, ranges: ClusterTopology.ranges(of: m.slots),
                                           timeout: timeout, user: user, password: password)
            }
            try ClusterCommand.pushAll(wanted, user: user, password: password)
            print("resharded: \(moves.count) migration(s), \(moves.reduce(0) { $0 + $1.slots.count }) slot(s) moved")
        }
    }

    /// One migration end to end: CLUSTER LARDER.MIGRATE on the source, its status polled until
    /// the handover, then the source's new topology pushed to every node.
    static func migrate(from source: ClusterTopology.Node, to: String, ranges: [ClusterTopology.SlotRange],
                        timeout: Double, user: String?, password: String?) throws {
        let from = source.address
        var args = [Array("CLUSTER".utf8), Array("LARDER.MIGRATE".utf8), Array(to.utf8)]
        for r in ranges { args += [Array(String(r.start).utf8), Array(String(r.end).utf8)] }
        let slots = ranges.map { $0.start == $0.end ? "\($0.start)" : "\($0.start)-\($0.end)" }.joined(separator: ",")
        let conn = try connect(source, user: user, password: password)
        if case .error(let e) = try conn.call(args) {
            throw CLIOutput.fail("cluster migrate", RESPClientError("\(from) refused the migration: \(e)"))
        }
        let deadline = Date().addingTimeInterval(timeout)
        var fields: [String: String] = [:]
        var last = ""
        while true {
            let reply = try conn.call([Array("CLUSTER".utf8), Array("LARDER.MIGRATION".utf8)])
            var text = ""
            if case .verbatim(_, let b) = reply { text = String(decoding: b, as: UTF8.self) }
            if case .bulk(let b) = reply { text = String(decoding: b, as: UTF8.self) }
            fields = [:]
            for line in text.split(separator: "\r\n") {
                if let c = line.firstIndex(of: ":") { fields[String(line[..<c])] = String(line[line.index(after: c)...]) }
            }
            let state = fields["migration_state"] ?? "?"
            let progress = "\(state) keys_sent:\(fields["migration_keys_sent"] ?? "?") writes_forwarded:\(fields["migration_writes_forwarded"] ?? "?")"
            if state != last { print("\(from): \(progress)"); last = state }
            if state == "failed" {
                throw CLIOutput.fail("cluster migrate", RESPClientError("\(from): migration failed: \(fields["migration_error"] ?? "")"))
            }
            if state == "deleting" || state == "done" { break }
            guard Date() < deadline else {
                throw CLIOutput.fail("cluster migrate", RESPClientError("\(from): still \(progress) after \(timeout) s"))
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        // The source and the target hold the new topology; every other node gets it now.
        guard case .bulk(let json) = try conn.call([Array("CLUSTER".utf8), Array("LARDER.TOPOLOGY".utf8)]) else {
            throw CLIOutput.fail("cluster migrate", RESPClientError("\(from) has no topology after the handover"))
        }
        try pushAll(try ClusterTopology.parse(json: json), user: user, password: password)
        print("\(from): migrated \(slots) to \(to) (keys_sent:\(fields["migration_keys_sent"] ?? "?") writes_forwarded:\(fields["migration_writes_forwarded"] ?? "?"))")
    }

    /// CLUSTER LARDER.SETTOPOLOGY on every node of `t`; each node's outcome printed, exit 1 if any failed.
    static func pushAll(_ t: ClusterTopology, user: String?, password: String?) throws {
        let json = Array(t.json.utf8)
        var failed = false
        for n in t.nodes {
            do {
                let c = try connect(n, user: user, password: password)
                if case .error(let e) = try c.call([Array("CLUSTER".utf8), Array("LARDER.SETTOPOLOGY".utf8), json]) {
                    print("\(n.address) \(n.id): refused the new topology: \(e)"); failed = true
                } else {
                    print("\(n.address) \(n.id): new topology")
                }
            } catch {
                print("\(n.address) \(n.id): unreachable: \(error)"); failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    static func hostPort(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            throw ValidationError("'\(text)' is not host:port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host, port)
    }

    static func load(_ file: String) throws -> ClusterTopology {
        do {
            return try ClusterTopology.parse(json: Array(try Data(contentsOf: URL(fileURLWithPath: file))))
        } catch let e as ClusterTopology.Invalid {
            FileHandle.standardError.write("larder cluster: \(file): \(e)\n".data(using: .utf8)!)
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write("larder cluster: \(file): \(error.localizedDescription)\n".data(using: .utf8)!)
            throw ExitCode(1)
        }
    }

    static func connect(_ n: ClusterTopology.Node, user: String?, password: String?) throws -> RESPClient {
        let options = RESPClientOptions(connectTimeoutSeconds: 3, timeoutSeconds: 10, reconnectAttempts: 0)
        return try RESPClient(endpoint: RESPEndpoint(host: n.ip, port: n.port, username: user, password: password), options: options)
    }
}
