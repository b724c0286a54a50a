/// Where one argument lies in the buffer it was parsed from: arguments are never copied
/// out of the read buffer on the local path.
public struct ArgumentSpan: Sendable, Equatable {
    public var offset: Int
    public var count: Int
    @inlinable public init(offset: Int, count: Int) { self.offset = offset; self.count = count }
}

/// A parsed command: a view of `count` argument spans (starting at `first` in a shared span
/// list) over a byte buffer. Valid only while that buffer is alive and unchanged.
public struct Arguments {
    public let base: UnsafeRawPointer
    @usableFromInline let spans: UnsafePointer<ArgumentSpan>
    public let count: Int

    @inlinable public init(base: UnsafeRawPointer, spans: UnsafePointer<ArgumentSpan>, count: Int) {
        self.base = base; self.spans = spans; self.count = count
    }

    @inlinable public subscript(i: Int) -> UnsafeRawBufferPointer {
        let s = spans[i]
        return UnsafeRawBufferPointer(start: base + s.offset, count: s.count)
    }

    @inlinable public func span(_ i: Int) -> ArgumentSpan { spans[i] }

    /// The spans themselves, for code that reads arguments in place without this module's
    /// types (the store's `ByteSpans`: an ArgumentSpan is an (offset, count) pair of Ints).
    @inlinable public var spanPointer: UnsafePointer<ArgumentSpan> { spans }

    /// The argument as an owned byte array (used when a value must be stored).
    @inlinable public func bytes(_ i: Int) -> [UInt8] { Array(self[i]) }

    /// The argument as a String (lossy UTF-8); for option keywords and messages, not for data.
    public func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    /// Case-insensitive comparison with an ASCII keyword given in upper case, without allocating.
    @inlinable public func equalsKeyword(_ i: Int, _ upper: StaticString) -> Bool {
        let a = self[i]
        guard a.count == upper.utf8CodeUnitCount else { return false }
        let k = upper.utf8Start
        for j in 0..<a.count {
            var c = a[j]
            if c >= 97 && c <= 122 { c -= 32 }
            if c != k[j] { return false }
        }
        return true
    }
}
