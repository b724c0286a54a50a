import LarderPersistence
import XCTest

/// The append-only file's formats: Redis 7's manifest and RESP multibulk incr files, with the
/// offsets a damaged file is reported at.
final class AOFFormatTests: XCTestCase {
    func testTheManifestReadsAndWritesAsRedis7() throws {
        // As redis-server 7.0.15 writes it (checked with --appendonly yes).
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        let m = try AOFManifest.parse(text, file: "m")
        XCTAssertEqual(m.base?.name, "appendonly.aof.1.base.rdb")
        XCTAssertEqual(m.incrs.map(\.name), ["appendonly.aof.1.incr.aof"])
        XCTAssertEqual(m.render(), text)
        let several = try AOFManifest.parse("# comment\nfile b seq 3 type b\nfile i5 seq 5 type i\nfile i4 seq 4 type i\n\nfile h seq 2 type h\n", file: "m")
        XCTAssertEqual(several.incrs.map(\.seq), [4, 5], "incr files replay in seq order")
        XCTAssertThrowsError(try AOFManifest.parse("file a seq 1 type b\nfile x seq\n", file: "m")) { e in
            XCTAssertEqual("\(e)", "m, line 2: invalid manifest line (odd number of words): file x seq")
        }
        XCTAssertThrowsError(try AOFManifest.parse("file ../x seq 1 type b\n", file: "m"))
        XCTAssertThrowsError(try AOFManifest.parse("file a seq 1 type b\nfile b seq 2 type b\n", file: "m"))
    }

    func testEncodedCommandsReadBack() throws {
        var out: [UInt8] = []
        AOFEncoder.arrayHeader(3, to: &out)
        AOFEncoder.bulk("SET", to: &out)
        AOFEncoder.bulk(Array("k\r\n\0".utf8), to: &out)
        AOFEncoder.bulkDecimal(-1234567890123, to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "*3\r\n$3\r\nSET\r\n$4\r\nk\r\n\0\r\n$14\r\n-1234567890123\r\n")
        let p = try AOFReader.parse(out + out, file: "f")
        XCTAssertEqual(p.commands.count, 2)
        XCTAssertEqual(p.commands[1][1], Array("k\r\n\0".utf8))
        XCTAssertEqual(p.ends, [out.count, 2 * out.count])
        XCTAssertNil(p.truncatedAt)
    }

    func testATornTailIsReportedWhereTheLastCompleteCommandEnds() throws {
        let one = Array("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n".utf8)
        for cut in 1..<one.count {
            let p = try AOFReader.parse(one + one.prefix(cut), file: "f")
            XCTAssertEqual(p.commands.count, 1, "cut at \(cut)")
            XCTAssertEqual(p.truncatedAt, one.count, "cut at \(cut)")
        }
    }

    func testGarbageIsAnErrorWithItsOffset() {
        let one = Array("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n".utf8)
        XCTAssertThrowsError(try AOFReader.parse(one + Array("xyz".utf8) + one, file: "f.aof")) { e in
            XCTAssertEqual("\(e)", "f.aof, offset \(one.count): expected '*' (the start of a command), found 'x'")
        }
        XCTAssertThrowsError(try AOFReader.parse(Array("*2\r\n$3\r\nDEL\r\n:1\r\n".utf8), file: "f")) { e in
            XCTAssertEqual("\(e)", "f, offset 13: expected '$' (a bulk argument), found ':'")
        }
        XCTAssertThrowsError(try AOFReader.parse(Array("*1\r\n$3\r\nDELxx".utf8), file: "f")) { e in
            XCTAssertEqual("\(e)", "f, offset 11: expected CRLF after a 3-byte argument, found 'x'")
        }
        XCTAssertThrowsError(try AOFReader.parse(Array("*0\r\n".utf8), file: "f"))
    }

    /// The start-up replay streams incr files: a small window makes commands straddle windows,
    /// one command is longer than the window, and the stream must give exactly what reading the
    /// whole file gives, the same ends and the same torn-tail offset.
    func testTheStreamReadsWhatTheWholeFileReads() throws {
        var file: [UInt8] = []
        for i in 0..<500 {
            AOFEncoder.arrayHeader(3, to: &file)
            AOFEncoder.bulk("SET", to: &file)
            AOFEncoder.bulk(Array("key:\(i)".utf8), to: &file)
            AOFEncoder.bulk([UInt8](repeating: UInt8(97 + i % 26), count: i == 250 ? 5000 : i % 70), to: &file)
        }
        let torn = Array("*2\r\n$3\r\nDEL\r\n$4\r\nke".utf8)
        let whole = try AOFReader.parse(file + torn, file: "f")
        XCTAssertEqual(whole.commands.count, 500)
        XCTAssertEqual(whole.truncatedAt, file.count)
        let path = NSTemporaryDirectory() + "aof-stream-\(getpid()).aof"
        defer { unlink(path) }
        for window in [64, 1000, 1 << 20] {
            for tail in [torn, []] {
                FileManager.default.createFile(atPath: path, contents: Data(file + tail))
                let stream = try AOFReader.Stream(path: path, windowBytes: window)
                var commands: [[[UInt8]]] = [], ends: [Int] = []
                while true {
                    let batch = try stream.next(max: 37)
                    if batch.commands.isEmpty { break }
                    XCTAssertLessThanOrEqual(batch.commands.count, 37)
                    commands += batch.commands; ends += batch.ends
                }
                XCTAssertEqual(commands, whole.commands, "window \(window)")
                XCTAssertEqual(ends, whole.ends, "window \(window)")
                XCTAssertEqual(stream.truncatedAt, tail.isEmpty ? nil : file.count, "window \(window)")
            }
        }
        // Garbage far into the file is reported at its offset in the file, not in the window.
        FileManager.default.createFile(atPath: path, contents: Data(file + Array("xyz".utf8) + file))
        let stream = try AOFReader.Stream(path: path, windowBytes: 100)
        XCTAssertThrowsError(try { while try !stream.next(max: 1000).commands.isEmpty {} }()) { e in
            XCTAssertEqual("\(e)", "\(path), offset \(file.count): expected '*' (the start of a command), found 'x'")
        }
    }
}
