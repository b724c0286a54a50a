import XCTest
import Foundation
import LarderParquet
@testable import LarderOffline

/// Rows rendered as JSON Lines and CSV (what `larder cat` prints), and CSV output read
/// back by the CSV reader to the same values.
final class CSVRowTextTests: XCTestCase {
    func text(_ batch: ColumnBatch, _ format: RowTextFormat) -> String {
        let writer = RowTextWriter(format: format, fields: batch.fields)
        var out: [UInt8] = []
        writer.appendHeader(to: &out)
        for row in 0 ..< batch.rowCount { writer.appendRow(batch, row: row, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    func sampleBatch() -> ColumnBatch {
        var strings = ByteArrayColumn()
        strings.append(Array("a \"quoted\", line\nbreak".utf8))
        strings.append([UInt8]())
        strings.appendEmpty()
        var blobs = ByteArrayColumn()
        blobs.append([0xFF, 0x00, 0x10])
        blobs.append(Array("hi".utf8))
        blobs.appendEmpty()
        var elements = ByteArrayColumn()
        elements.append(Array("x".utf8))
        elements.append(Array("y".utf8))
        let fields = [
            Field(name: "ts", type: .timestamp(isAdjustedToUTC: true)),
            Field(name: "naive", type: .timestamp(isAdjustedToUTC: false)),
            Field(name: "d", type: .date),
            Field(name: "f", type: .double),
            Field(name: "s", type: .string),
            Field(name: "b", type: .binary),
            Field(name: "l", type: .list(.string)),
        ]
        let columns = [
            ColumnData(type: fields[0].type, values: .int64([1_704_164_645_000_000_000, -1, 1_704_164_645_120_000_000])),
            ColumnData(type: fields[1].type, values: .int64([1_704_164_645_000_001_000, 0, 0]), validity: [true, true, false]),
            ColumnData(type: .date, values: .int32([19_724, -1, 0])),
            ColumnData(type: .double, values: .double([1.5, .nan, -.infinity])),
            ColumnData(type: .string, values: .byteArray(strings), validity: [true, true, false]),
            ColumnData(type: .binary, values: .byteArray(blobs), validity: [true, true, false]),
            ColumnData(type: fields[6].type,
                       values: .list(ListColumn(offsets: [0, 2, 2, 2], elements: ColumnData(type: .string, values: .byteArray(elements)))),
                       validity: [true, true, false]),
        ]
        return ColumnBatch(fields: fields, columns: columns, rowCount: 3)
    }

    func testJSONLines() {
        XCTAssertEqual(text(sampleBatch(), .jsonl), """
            {"ts":"2024-01-02T03:04:05Z","naive":"2024-01-02T03:04:05.000001","d":"2024-01-02","f":1.5,"s":"a \\"quoted\\", line\\nbreak","b":"/wAQ","l":["x","y"]}
            {"ts":"1969-12-31T23:59:59.999999999Z","naive":"1970-01-01T00:00:00","d":"1969-12-31","f":"NaN","s":"","b":"aGk=","l":[]}
            {"ts":"2024-01-02T03:04:05.120Z","naive":null,"d":"1970-01-01","f":"-Infinity","s":null,"b":null,"l":null}

            """)
    }

    func testCSV() {
        XCTAssertEqual(text(sampleBatch(), .csv), """
            ts,naive,d,f,s,b,l
            2024-01-02T03:04:05Z,2024-01-02T03:04:05.000001,2024-01-02,1.5,"a ""quoted"", line
            break",/wAQ,"[""x"",""y""]"
            1969-12-31T23:59:59.999999999Z,1970-01-01T00:00:00,1969-12-31,nan,"",aGk=,[]
            2024-01-02T03:04:05.120Z,,1970-01-01,-inf,,,

            """)
    }

    /// Parquet -> CSV text -> CSV reader gives back the Parquet values (every scalar kind,
    /// nulls, empty strings, NaN and infinities, naive and UTC timestamps).
    func testCSVOutputReadsBackToTheSameValues() throws {
        let parquet = try TabularSource(path: try fixturePath("fp_snappy_multi_rg.parquet"))
        var csvText: [UInt8] = []
        let writer = RowTextWriter(format: .csv, fields: parquet.schema)
        writer.appendHeader(to: &csvText)
        let original = try parquet.readAll()
        for batch in original {
            for row in 0 ..< batch.rowCount { writer.appendRow(batch, row: row, to: &csvText) }
        }
        let reader = try CSVReader(bytes: csvText, name: "roundtrip.csv", options: CSVOptions(schema: parquet.schema))
        let reread = try reader.readAll()
        for field in parquet.schema {
            XCTAssertEqual(exactValues(original, field.name), exactValues(reread, field.name), field.name)
        }
    }
}
