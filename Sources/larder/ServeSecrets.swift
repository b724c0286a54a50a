import ArgumentParser
import Foundation
import LarderTLS

/// Where `larder serve` finds its secrets. A flag shows in `ps`, so each secret can also come
/// from a file (a mounted Kubernetes Secret) or the environment (a Secret as an env var):
///
/// | setting | flag / config file line | file | environment |
/// |---|---|---|---|
/// | requirepass | `requirepass` | `requirepass-file` | `LARDER_REQUIREPASS` |
/// | tls-key-file-pass | `tls-key-file-pass` | `tls-key-file-pass-file` | `LARDER_TLS_KEY_FILE_PASS` |
///
/// The value itself (flag or config line) and its file are exclusive; the environment is read
/// only when neither is given. ACL users come from `aclfile`, a file already. The log says
/// where each secret came from, never what it is.
struct Secrets {
    var requirePass: String?
    var tls: TLSConfiguration
    var sources: [(String, String)] = []
}

struct SecretFailure: Error { let message: String }

extension ServeCommand {
    static let requirePassEnvironment = "LARDER_REQUIREPASS"
    static let tlsKeyFilePassEnvironment = "LARDER_TLS_KEY_FILE_PASS"

    func resolveSecrets(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Secrets {
        var sources: [(String, String)] = []
        func resolve(_ name: String, value: String?, file: String?, env: String) throws -> String? {
            if let file {
                if value != nil { throw SecretFailure(message: "give --\(name) or --\(name)-file, not both") }
                let secret = try Self.firstLine(of: file, option: "--\(name)-file")
                sources.append((name, "file \(file)"))
                return secret
            }
            if let value { sources.append((name, "the configuration")); return value }
            if let secret = environment[env], !secret.isEmpty { sources.append((name, "environment \(env)")); return secret }
            return nil
        }
        let requirePass = try resolve("requirepass", value: requirepass, file: requirepassFile, env: Self.requirePassEnvironment)
        var tls = tlsConfiguration
        tls.keyFilePass = try resolve("tls-key-file-pass", value: tlsKeyFilePass, file: tlsKeyFilePassFile, env: Self.tlsKeyFilePassEnvironment)
        return Secrets(requirePass: requirePass, tls: tls, sources: sources)
    }

    /// The first line of `path` without its line end; a missing, unreadable or empty file is
    /// refused, naming the option and the file.
    static func firstLine(of path: String, option: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretFailure(message: "\(option) \(path): cannot read the file")
        }
        let text = String(decoding: data, as: UTF8.self)
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let secret = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !secret.isEmpty else { throw SecretFailure(message: "\(option) \(path): the first line is empty") }
        return secret
    }

    /// The settings given on the command line (`--name value`, `--flag`, `--no-flag`,
    /// `--name=value`) as (name, values) in the config file's terms, for CONFIG REWRITE.
    /// Whether an option takes a value is asked of the parser itself.
    static func commandLineSettings(_ argv: [String]) -> [(name: String, values: [String])] {
        var out: [(name: String, values: [String])] = []
        var i = 0
        while i < argv.count {
            let token = argv[i]
            i += 1
            guard token.hasPrefix("--"), token != "--config-file-applied" else { continue }  // the file's path
            var name = String(token.dropFirst(2))
            if let eq = name.firstIndex(of: "=") {
                out.append((String(name[..<eq]), [String(name[name.index(after: eq)...])]))
                continue
            }
            let isFlag = (try? ServeCommand.parse([token])) != nil
            if isFlag {
                if name.hasPrefix("no-") { name.removeFirst(3); out.append((name, ["no"])) } else { out.append((name, ["yes"])) }
            } else if i < argv.count {
                out.append((name, [argv[i]]))
                i += 1
            }
        }
        return out
    }
}
