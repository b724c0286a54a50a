#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Streams a CSV input block by block through the tokenizer. The window holds the bytes
// from the first unconsumed record on; each refill moves that tail to the front and reads
// one more block. A record longer than the window makes the next read as large as the
// window (geometric growth), so even a huge record is scanned O(size) times in total.
// Memory stays bounded by the block size plus the longest record.

/// Where CSV bytes come from: a file read with POSIX `read`, or bytes in memory (tests).
enum CSVInput {
    case file(path: String)
    case memory([UInt8])
}

final class CSVRecordStream {
    let name: String
    private(set) var tokenizer: CSVTokenizer
    private let blockSize: Int
    private var fd: Int32 = -1
    private var memory: [UInt8] = []
    private var memoryOffset = 0
    private var isMemory = false

    /// Window storage, allocated by hand so that growing it never zero-fills.
    private var window: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var validCount = 0
    private var position = 0
    private var atEndOfInput = false
    private var finished = false
    private var checkedByteOrderMark = false

    init(input: CSVInput, name: String, delimiter: UInt8, blockSize: Int) throws {
        self.name = name
        self.blockSize = max(blockSize, 1)
        self.tokenizer = CSVTokenizer(delimiter: delimiter, fileName: name)
        capacity = 0
        window = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        switch input {
        case .file(let path):
            fd = open(path, O_RDONLY)
            if fd < 0 {
                throw CSVError(.io("cannot open: \(String(cString: strerror(errno)))"), file: name, line: 0)
            }
        case .memory(let bytes):
            memory = bytes
            isMemory = true
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        window.deallocate()
    }

    var columnNames: [String] {
        get { tokenizer.columnNames }
        set { tokenizer.columnNames = newValue }
    }

    /// Tokenizes up to `maxRecords` complete records (forgetting the previous ones).
    /// Returns false when the input is exhausted and no record was tokenized.
    func next(maxRecords: Int) throws -> Bool {
        tokenizer.clearRecords()
        while !finished {
            let stop = try tokenizer.scan(UnsafeBufferPointer(start: window, count: validCount),
                                          position: &position, isFinal: atEndOfInput, maxRecords: maxRecords)
            switch stop {
            case .limit:
                return true
            case .endOfInput:
                finished = true
            case .needMore:
                if tokenizer.recordCount > 0 { return true }  // hand these out before moving bytes
                try refill()
            }
        }
        return tokenizer.recordCount > 0
    }

    /// Runs `body` with the window bytes the current records' spans refer to.
    func withBytes<R>(_ body: (UnsafePointer<UInt8>) throws -> R) rethrows -> R {
        try body(window)
    }

    private func refill() throws {
        let tail = validCount - position
        if position > 0 {
            if tail > 0 { memmove(window, window + position, tail) }
            validCount = tail
            position = 0
        }
        var want = max(blockSize, tail)
        if isMemory { want = max(min(want, memory.count - memoryOffset), 1) }
        if capacity < validCount + want {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: validCount + want)
            grown.update(from: window, count: validCount)
            window.deallocate()
            window = grown
            capacity = validCount + want
        }
        let got = try read(into: window + validCount, count: want)
        if got == 0 {
            atEndOfInput = true
        } else {
            validCount += got
        }
        if !checkedByteOrderMark && (validCount >= 3 || atEndOfInput) {
            checkedByteOrderMark = true
            if validCount >= 3 && window[0] == 0xEF && window[1] == 0xBB && window[2] == 0xBF { position = 3 }
        }
    }

    private func read(into destination: UnsafeMutablePointer<UInt8>, count: Int) throws -> Int {
        if isMemory {
            let n = min(count, memory.count - memoryOffset)
            guard n > 0 else { return 0 }
            memory.withUnsafeBufferPointer { source in
                guard let base = source.baseAddress else { return }
                destination.update(from: base + memoryOffset, count: n)
            }
            memoryOffset += n
            return n
        }
        while true {
            #if canImport(Glibc)
            let n = Glibc.read(fd, destination, count)
            #else
            let n = Darwin.read(fd, destination, count)
            #endif
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw CSVError(.io("read failed: \(String(cString: strerror(errno)))"), file: name, line: tokenizer.line)
        }
    }
}
