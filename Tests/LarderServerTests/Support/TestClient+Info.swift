import Foundation

extension TestClient {
    /// The `field:value` lines of an INFO section.
    func infoFields(_ section: String) throws -> [String: String] {
        var fields: [String: String] = [:]
        for line in (try call("INFO", section).string ?? "").split(separator: "\r\n") where !line.hasPrefix("#") {
            let kv = line.split(separator: ":", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        return fields
    }
}

extension TestClient {
    /// Waits (up to 20 s) until no background snapshot runs (INFO rdb_bgsave_in_progress:0);
    /// its outcome is recorded by then.
    func waitForBackgroundSave() throws {
        let deadline = Date().addingTimeInterval(20)
        while try infoFields("persistence")["rdb_bgsave_in_progress"] != "0" {
            guard Date() < deadline else { throw BackgroundSaveTimeout() }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }
}

struct BackgroundSaveTimeout: Error {}
