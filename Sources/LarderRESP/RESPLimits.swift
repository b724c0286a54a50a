/// Protocol limits, with Redis' names and defaults.
public struct RESPLimits: Sendable {
    /// `proto-max-bulk-len`: the largest bulk string a client may send (Redis: 512 MB).
    public var maxBulkLength: Int = 512 * 1024 * 1024
    /// `proto-max-multibulk-len`: the largest argument count of one command. Redis caps it at
    /// INT_MAX without a config; we expose the cap so a deployment can lower it.
    public var maxMultibulkLength: Int = Int(Int32.max)
    /// Redis' PROTO_INLINE_MAX_SIZE: an inline command or a `*`/`$` header line longer than this
    /// without a CRLF is a protocol error.
    public var maxInlineLength: Int = 64 * 1024
    /// Before AUTH succeeds, Redis allows at most 10 arguments and 16 KiB bulks, so an
    /// unauthenticated client cannot make the server buffer large requests.
    public var unauthenticatedMaxMultibulk: Int = 10
    public var unauthenticatedMaxBulk: Int = 16 * 1024

    public init() {}
}

/// Why a request could not be parsed. `message` is the exact text Redis sends after `-ERR `.
public struct RESPProtocolError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }

    static let tooBigMultibulkCount = RESPProtocolError("Protocol error: too big mbulk count string")
    static let invalidMultibulkLength = RESPProtocolError("Protocol error: invalid multibulk length")
    static let tooBigBulkCount = RESPProtocolError("Protocol error: too big bulk count string")
    static let invalidBulkLength = RESPProtocolError("Protocol error: invalid bulk length")
    static let unbalancedQuotes = RESPProtocolError("Protocol error: unbalanced quotes in request")
    static let tooBigInline = RESPProtocolError("Protocol error: too big inline request")
    static let unauthenticatedMultibulk = RESPProtocolError("Protocol error: unauthenticated multibulk length")
    static let unauthenticatedBulk = RESPProtocolError("Protocol error: unauthenticated bulk length")
    static func expectedDollar(got byte: UInt8) -> RESPProtocolError {
        RESPProtocolError("Protocol error: expected '$', got '\(Character(Unicode.Scalar(byte)))'")
    }
}
