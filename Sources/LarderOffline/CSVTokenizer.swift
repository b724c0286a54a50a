// Byte-level RFC 4180 tokenizer. It splits a window of bytes into records and fields
// without copying or decoding anything: a field is a byte range of the window plus two
// flags. Records that are cut off by the end of the window are left for the next call
// (the caller appends more bytes and scans again from `position`), so the reader can
// stream a file in fixed-size blocks while a record spans block boundaries.
//
// Accepted dialect: `,` (or another single-byte delimiter), `"` quoting with `""` as an
// escaped quote, delimiters and line breaks inside quotes, LF / CRLF / CR line ends,
// blank lines skipped, an unquoted field may contain `"` literally. A closing quote must
// be followed by a delimiter, a line end or end of input.

/// One field of a tokenized record: bytes `start ..< end` of the window (quotes excluded).
struct CSVFieldSpan {
    var start: Int
    var end: Int
    var flags: UInt8

    static let quoted: UInt8 = 1
    /// The field contains `""` pairs that stand for one `"` each.
    static let doubledQuotes: UInt8 = 2

    var isEmpty: Bool { start == end }
    var hasDoubledQuotes: Bool { flags & CSVFieldSpan.doubledQuotes != 0 }
}

struct CSVTokenizer {
    enum Stop {
        /// `maxRecords` records are tokenized; more input may follow.
        case limit
        /// The window ends inside a record (or is exhausted): append bytes and scan again.
        case needMore
        /// All input is tokenized.
        case endOfInput
    }

    let delimiter: UInt8
    let fileName: String
    /// Header names, when known, so that errors can name the column.
    var columnNames: [String] = []

    /// Fields of all tokenized records, record after record.
    private(set) var fields: [CSVFieldSpan] = []
    /// Record r owns `fields[recordFieldStart[r] ..< recordFieldStart[r + 1]]`.
    private(set) var recordFieldStart: [Int] = [0]
    /// Physical line on which record r starts.
    private(set) var recordLines: [Int] = []
    /// Physical line of the next byte to scan.
    private(set) var line = 1

    init(delimiter: UInt8 = UInt8(ascii: ","), fileName: String) {
        self.delimiter = delimiter
        self.fileName = fileName
    }

    var recordCount: Int { recordLines.count }

    func fieldCount(ofRecord r: Int) -> Int { recordFieldStart[r + 1] - recordFieldStart[r] }

    /// Forgets the tokenized records (their byte ranges refer to a window about to change).
    mutating func clearRecords() {
        fields.removeAll(keepingCapacity: true)
        recordFieldStart.removeAll(keepingCapacity: true)
        recordFieldStart.append(0)
        recordLines.removeAll(keepingCapacity: true)
    }

    /// The length of the line break at `pos` (LF, CRLF or a lone CR): 1 or 2, 0 when the byte
    /// is not one, -1 when a CR ends a window that more bytes follow (it may be a CRLF).
    @inline(__always)
    static func lineBreakLength(_ base: UnsafePointer<UInt8>, at pos: Int, end: Int, isFinal: Bool) -> Int {
        let lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        switch base[pos] {
        case lf: return 1
        case cr:
            if pos + 1 < end { return base[pos + 1] == lf ? 2 : 1 }
            return isFinal ? 1 : -1
        default: return 0
        }
    }

    /// Tokenizes complete records of `window` starting at `position`, appending them to the
    /// record list until it holds `maxRecords`. On return `position` is the start of the
    /// first byte not consumed (the start of an incomplete record on `.needMore`).
    /// `isFinal` says no bytes follow the window, so a record may end at its end.
    mutating func scan(_ window: UnsafeBufferPointer<UInt8>, position: inout Int,
                       isFinal: Bool, maxRecords: Int) throws -> Stop {
        guard let base = window.baseAddress else { return isFinal ? .endOfInput : .needMore }
        let end = window.count
        let delimiter = self.delimiter
        let quote = UInt8(ascii: "\""), lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var pos = position
        defer { position = pos }

        while recordLines.count < maxRecords {
            // Blank lines between records are skipped (they carry no fields).
            while pos < end {
                let n = Self.lineBreakLength(base, at: pos, end: end, isFinal: isFinal)
                if n < 0 { return .needMore }
                if n == 0 { break }
                pos += n; line += 1
            }
            if pos == end { return isFinal ? .endOfInput : .needMore }

            let recordStart = pos
            let fieldMark = fields.count
            var lineCursor = line
            // Restores the state of the record start when the window ends mid-record.
            func rollBack() {
                fields.removeSubrange(fieldMark...)
                pos = recordStart
            }

            fieldLoop: while true {
                if pos < end && base[pos] == quote {
                    let openLine = lineCursor
                    pos += 1
                    let fieldStart = pos
                    var flags = CSVFieldSpan.quoted
                    while true {
                        if pos == end {
                            if isFinal {
                                throw error(.unterminatedQuote, line: openLine, field: fields.count - fieldMark)
                            }
                            rollBack(); return .needMore
                        }
                        let c = base[pos]
                        if c == quote {
                            if pos + 1 < end {
                                if base[pos + 1] != quote { break }
                                flags |= CSVFieldSpan.doubledQuotes
                                pos += 2
                                continue
                            }
                            if !isFinal { rollBack(); return .needMore }
                            break
                        }
                        if c == lf { lineCursor += 1 }
                        pos += 1
                    }
                    fields.append(CSVFieldSpan(start: fieldStart, end: pos, flags: flags))
                    pos += 1  // the closing quote
                } else {
                    let fieldStart = pos
                    while pos < end {
                        let c = base[pos]
                        if c == delimiter || c == lf || c == cr { break }
                        pos += 1
                    }
                    fields.append(CSVFieldSpan(start: fieldStart, end: pos, flags: 0))
                }

                if pos == end {
                    if !isFinal { rollBack(); return .needMore }
                    break fieldLoop
                }
                let c = base[pos]
                if c == delimiter {
                    pos += 1
                    continue fieldLoop
                }
                let n = Self.lineBreakLength(base, at: pos, end: end, isFinal: isFinal)
                if n < 0 { rollBack(); return .needMore }
                // Only a quoted field can stop on another byte.
                if n == 0 { throw error(.unexpectedCharacterAfterQuote(c), line: lineCursor, field: fields.count - fieldMark - 1) }
                pos += n
                lineCursor += 1
                break fieldLoop
            }
            recordFieldStart.append(fields.count)
            recordLines.append(line)
            line = lineCursor
        }
        return .limit
    }

    /// An error located at `line`, naming field `index` (0-based) of the record.
    private func error(_ kind: CSVError.Kind, line: Int, field index: Int) -> CSVError {
        let name = index < columnNames.count ? columnNames[index] : nil
        return CSVError(kind, file: fileName, line: line, column: name, fieldNumber: index + 1)
    }
}
