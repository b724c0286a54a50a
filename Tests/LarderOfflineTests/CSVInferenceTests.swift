import XCTest
import Foundation
import LarderParquet
@testable import LarderOffline

/// Column types inferred from a sample of rows, widening int64 -> float64 -> string.
final class CSVInferenceTests: XCTestCase {
    func reader(_ text: String, options: CSVOptions = CSVOptions()) throws -> CSVReader {
        try CSVReader(bytes: Array(text.utf8), name: "data.csv", options: options)
    }

    func testEachInferredType() throws {
        let text = """
            i,f,b,tz,naive,s,widened,empty,huge
            1,1.5,true,2024-01-02T03:04:05Z,2024-01-02 03:04:05,abc,1,,12345678901234567890
            -2,2,FALSE,2024-01-02T03:04:05+02:00,2024-01-02,x y,2.5,,1
            ,,,,,,,,
            """
        let types = schemaTypes(try reader(text))
        XCTAssertEqual(types["i"], .int64)
        XCTAssertEqual(types["f"], .double)
        XCTAssertEqual(types["b"], .boolean)
        XCTAssertEqual(types["tz"], .timestamp(isAdjustedToUTC: true))
        XCTAssertEqual(types["naive"], .timestamp(isAdjustedToUTC: false))
        XCTAssertEqual(types["s"], .string)
        XCTAssertEqual(types["widened"], .double)
        XCTAssertEqual(types["empty"], .string, "a column of nulls only is a string column")
        XCTAssertEqual(types["huge"], .string, "an integer beyond Int64 is not rounded into a float")
    }

    func testDisagreeingValuesWidenToString() throws {
        let text = "a,b,c,d\n1,true,2024-01-02,1.5\nx,1,7,nope\n"
        let types = schemaTypes(try reader(text))
        XCTAssertEqual(types["a"], .string)
        XCTAssertEqual(types["b"], .string)
        XCTAssertEqual(types["c"], .string)
        XCTAssertEqual(types["d"], .string)
    }

    func testSpecialFloatsAndSpacesAroundNumbers() throws {
        let text = "f,i\n nan ,  3\ninf,4 \n-Infinity,5\n1e-7,6\n"
        let r = try reader(text)
        XCTAssertEqual(schemaTypes(r)["f"], .double)
        XCTAssertEqual(schemaTypes(r)["i"], .int64)
        let batches = try r.readAll()
        let f = values(batches, "f").map { $0 as? Double }
        XCTAssertTrue(f[0]?.isNaN == true)
        XCTAssertEqual(Array(f[1...]), [Double.infinity, -Double.infinity, 1e-7])
        XCTAssertEqual(values(batches, "i"), [3, 4, 5, 6].map { AnyHashable(Int64($0)) })
    }

    func testDeclaredTypesOverrideInference() throws {
        let r = try reader("id,amount\n001,5\n", options: CSVOptions(columnTypes: ["id": .string]))
        XCTAssertEqual(schemaTypes(r)["id"], .string)
        XCTAssertEqual(schemaTypes(r)["amount"], .int64)
        XCTAssertEqual(strings(try r.readAll(), "id"), ["001"])
    }

    func testOnlyTheSampleIsInferredAndALaterMisfitIsAnError() throws {
        var text = "n\n"
        for i in 0 ..< 50 { text += "\(i)\n" }
        text += "fifty\n"
        var options = CSVOptions()
        options.inferenceRows = 50
        let r = try reader(text, options: options)
        XCTAssertEqual(schemaTypes(r)["n"], .int64)
        let error = csvError { _ = try r.readAll() }
        XCTAssertEqual(error?.description, "data.csv:52: column \"n\": \"fifty\" is not an int64")

        options.inferenceRows = 51
        XCTAssertEqual(schemaTypes(try reader(text, options: options))["n"], .string)
    }

    func testNullsAreEmptyFieldsInEveryType() throws {
        let text = "i,f,b,t,s\n1,1.5,true,2024-01-02,x\n,,,,\n\"\",\"\",\"\",\"\",\"\"\n"
        let batches = try reader(text).readAll()
        XCTAssertEqual(values(batches, "i"), [Int64(1), nil, nil])
        XCTAssertEqual(values(batches, "f"), [1.5, nil, nil])
        XCTAssertEqual(values(batches, "b"), [true, nil, nil])
        XCTAssertEqual(values(batches, "t"), [Int64(1_704_153_600_000_000_000), nil, nil])
        XCTAssertEqual(values(batches, "s"), ["x", nil, ""], "a quoted empty string is not a null")
        XCTAssertEqual(batches[0]["i"]?.nullCount, 2)
    }

    func testColumnWithoutNullsHasNoValidityMask() throws {
        let batches = try reader("i\n1\n2\n").readAll()
        XCTAssertNil(batches[0]["i"]?.validity)
    }

    func testDeclaredBoolAcceptsDigits() throws {
        let batches = try readCSV("b\n1\n0\nTrue\n", options: CSVOptions(columnTypes: ["b": .boolean]))
        XCTAssertEqual(values(batches, "b"), [true, false, true])
    }

    func testFloatParsingIsCorrectlyRounded() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["0.1", "0.3", "-0.0", "1.7976931348623157e308", "5e-324", "123456789012345678901234567890",
                     "0.000000000000000000000000001", "9007199254740993", "3.141592653589793238462643383279"]
        for _ in 0 ..< 2000 {
            let value = Double(bitPattern: generator.next() & 0x7FEF_FFFF_FFFF_FFFF)
            texts.append("\(value)")
            texts.append(String(format: "%.6f", Double(Int32.random(in: Int32.min ... Int32.max)) / 1000))
        }
        for text in texts {
            let bytes = Array(text.utf8)
            let parsed = bytes.withUnsafeBufferPointer { CSVScalar.parseDouble($0.baseAddress!, 0, bytes.count) }
            XCTAssertEqual(parsed?.bitPattern, Double(text)?.bitPattern, text)
        }
        for bad in ["", "-", ".", "1.2.3", "0x10", "1e", "e5", "1,5", "nanx", "--1", "1 2"] {
            let bytes = Array(bad.utf8)
            let parsed = bytes.withUnsafeBufferPointer { buffer -> Double? in
                guard let p = buffer.baseAddress else { return nil }
                return CSVScalar.parseDouble(p, 0, bytes.count)
            }
            XCTAssertNil(parsed, bad)
        }
    }
}
