import XCTest
import LarderParquet
@testable import LarderOffline

/// RFC 4180 dialect: quoting, escaped quotes, embedded delimiters and line breaks,
/// LF / CRLF / CR line ends, and records that straddle the blocks the file is read in.
final class CSVTokenizerTests: XCTestCase {
    func testQuotedFieldsMayHoldDelimitersQuotesAndLineBreaks() throws {
        let text = "id,text\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,\"crlf\r\ninside\"\n5,plain\n"
        let batches = try readCSV(text, options: allStrings(["id", "text"]))
        XCTAssertEqual(strings(batches, "id"), ["1", "2", "3", "4", "5"])
        XCTAssertEqual(strings(batches, "text"), ["a,b", "say \"hi\"", "two\nlines", "crlf\r\ninside", "plain"])
    }

    func testCRLFAndCRLineEndsAndMissingFinalNewline() throws {
        for ending in ["\r\n", "\n", "\r"] {
            let text = ["a,b", "1,x", "2,y"].joined(separator: ending)
            let batches = try readCSV(text, options: allStrings(["a", "b"]))
            XCTAssertEqual(strings(batches, "a"), ["1", "2"], "line ending \(ending.debugDescription)")
            XCTAssertEqual(strings(batches, "b"), ["x", "y"], "line ending \(ending.debugDescription)")
        }
    }

    func testBlankLinesAreSkippedAndTrailingDelimiterIsAnEmptyField() throws {
        let text = "a,b\n\n1,\n\r\n2,z\n\n"
        let batches = try readCSV(text, options: allStrings(["a", "b"]))
        XCTAssertEqual(strings(batches, "a"), ["1", "2"])
        XCTAssertEqual(strings(batches, "b"), [nil, "z"])
    }

    func testQuoteInsideUnquotedFieldIsLiteral() throws {
        let batches = try readCSV("a\n5\"7\n", options: allStrings(["a"]))
        XCTAssertEqual(strings(batches, "a"), ["5\"7"])
    }

    func testByteOrderMarkIsIgnored() throws {
        let batches = try readCSV("\u{FEFF}id\n7\n")
        XCTAssertEqual(values(batches, "id"), [Int64(7)])
    }

    func testOtherDelimiter() throws {
        var options = allStrings(["a", "b"])
        options.delimiter = UInt8(ascii: "\t")
        let batches = try readCSV("a\tb\nx,1\ty\n", options: options)
        XCTAssertEqual(strings(batches, "a"), ["x,1"])
        XCTAssertEqual(strings(batches, "b"), ["y"])
    }

    /// The same tricky file read with every tiny block and batch size gives the same rows:
    /// records, quoted line breaks, `""` pairs and CR LF pairs all get cut by block ends.
    func testRecordsSpanningBlockBoundaries() throws {
        let text = "id,note,score\r\n"
            + "1,\"multi\r\nline, with \"\"quotes\"\"\",1.5\r\n"
            + "2,,\r\n"
            + "3,\"\"\"\",-2\r\n"
            + "4,\"" + String(repeating: "long field ", count: 20) + "\",7\r\n"
            + "5,last,8"
        let reference = try readCSV(text)
        XCTAssertEqual(values(reference, "id"), [1, 2, 3, 4, 5].map { Int64($0) })
        XCTAssertEqual(strings(reference, "note"),
                       ["multi\r\nline, with \"quotes\"", nil, "\"", String(repeating: "long field ", count: 20), "last"])
        XCTAssertEqual(values(reference, "score"), [1.5, nil, -2.0, 7.0, 8.0])
        for blockSize in [1, 2, 3, 5, 8, 13, 64] {
            for batchSize in [1, 2, 3, 100] {
                var options = CSVOptions()
                options.blockSize = blockSize
                options.batchSize = batchSize
                let batches = try readCSV(text, options: options)
                XCTAssertTrue(batches.allSatisfy { $0.rowCount <= batchSize })
                for name in ["id", "note", "score"] {
                    XCTAssertEqual(values(batches, name), values(reference, name),
                                   "column \(name), block \(blockSize), batch \(batchSize)")
                }
            }
        }
    }

    func testLineNumbersCountQuotedLineBreaksAcrossTinyBlocks() throws {
        // Line 4 holds the bad value: line 2-3 is one record with a quoted line break.
        let text = "n,s\r\n1,\"a\r\nb\"\r\nx,c\r\n"
        for blockSize in [1, 4, 1 << 20] {
            var options = CSVOptions(columnTypes: ["n": .int64])
            options.blockSize = blockSize
            let error = csvError { _ = try readCSV(text, options: options) }
            XCTAssertEqual(error?.line, 4, "block \(blockSize)")
            XCTAssertEqual(error?.description, "data.csv:4: column \"n\": \"x\" is not an int64")
        }
    }

    func testBatchesHoldAtMostBatchSizeRows() throws {
        var text = "v\n"
        for i in 0 ..< 1000 { text += "\(i)\n" }
        var options = CSVOptions()
        options.batchSize = 300
        options.blockSize = 256
        let batches = try readCSV(text, options: options)
        XCTAssertEqual(batches.map(\.rowCount), [300, 300, 300, 100])
        XCTAssertEqual(values(batches, "v"), (0 ..< 1000).map { Int64($0) })
    }

    /// Random inputs over the bytes that matter to the tokenizer: reading never traps, and
    /// the outcome (the rows, or the error) does not depend on the block size.
    func testRandomInputsReadTheSameWithAnyBlockSize() {
        let alphabet = Array("a1,\"\n\r -.:T".utf8)
        var generator = SplitMix(seed: 99)
        func outcome(_ bytes: [UInt8], blockSize: Int) -> String {
            var options = CSVOptions()
            options.blockSize = blockSize
            options.batchSize = 3
            do {
                let reader = try CSVReader(bytes: bytes, name: "fuzz.csv", options: options)
                let batches = try reader.readAll()
                return reader.schema.map { "\($0)" }.joined(separator: ";") + "|"
                    + reader.schema.map { exactValues(batches, $0.name).joined(separator: ",") }.joined(separator: "|")
            } catch {
                return "error: \(error)"
            }
        }
        for _ in 0 ..< 1500 {
            let length = Int(generator.next() % 40)
            let bytes = (0 ..< length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let reference = outcome(bytes, blockSize: 1 << 16)
            for blockSize in [1, 2, 7] {
                XCTAssertEqual(outcome(bytes, blockSize: blockSize), reference,
                               "block \(blockSize), input \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            }
        }
    }
}
