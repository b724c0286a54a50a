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
