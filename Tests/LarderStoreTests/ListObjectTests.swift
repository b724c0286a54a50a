import XCTest
@testable import LarderStore

/// Lists: a model ([[UInt8]]) driven through the same random pushes, pops and trims must agree
/// with `ListObject` at every step, across node boundaries and with the node limit changed.
final class ListObjectTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testPushPopBothEnds() {
        let l = ListObject()
        l.push(bytes("b"), left: true)
        l.push(bytes("a"), left: true)
        l.push(bytes("c"), left: false)
        XCTAssertEqual(l.elements, [bytes("a"), bytes("b"), bytes("c")])
        XCTAssertEqual(l.pop(left: false), bytes("c"))
        XCTAssertEqual(l.pop(left: true), bytes("a"))
        XCTAssertEqual(l.pop(left: true), bytes("b"))
        XCTAssertNil(l.pop(left: true))
        XCTAssertEqual(l.count, 0)
        XCTAssertEqual(l.nodeCount, 0, "an emptied list keeps no node")
    }

    func testNodesSplitAtTheByteLimitAndLargeElementsGetTheirOwnNode() {
        let l = ListObject()
        for i in 0..<10_000 { l.push(bytes("element-\(i)"), left: false) }
        XCTAssertGreaterThan(l.nodeCount, 10, "8 KB nodes: ~140 KB of elements need many nodes")
        for n in l.nodes { XCTAssertLessThanOrEqual(n.bytes.count, 8192) }
        let big = [UInt8](repeating: 7, count: 20_000)
        l.push(big, left: true)
        XCTAssertEqual(l.element(at: 0), big)
        XCTAssertEqual(l.element(at: 1), bytes("element-0"))
        XCTAssertEqual(l.element(at: 10_000), bytes("element-9999"))
        XCTAssertNil(l.element(at: 10_001))
    }

    func testRandomOperationsAgreeWithAModel() {
        for fill in [-2, -1, 3] {
            ListObject.fill = fill
            defer { ListObject.fill = -2 }
            var rng = SystemRandomNumberGenerator()
            var model: [[UInt8]] = []
            let l = ListObject()
            for step in 0..<4000 {
                let e = [UInt8](repeating: UInt8(step % 251), count: Int.random(in: 0...300, using: &rng))
                switch Int.random(in: 0..<8, using: &rng) {
                case 0, 1: l.push(e, left: true); model.insert(e, at: 0)
                case 2, 3: l.push(e, left: false); model.append(e)
                case 4: XCTAssertEqual(l.pop(left: true), model.isEmpty ? nil : model.removeFirst())
                case 5: XCTAssertEqual(l.pop(left: false), model.popLast())
                case 6:
                    let n = Int.random(in: 0...3, using: &rng)
                    let left = Bool.random(using: &rng)
                    l.remove(n, left: left)
                    if left { model.removeFirst(min(n, model.count)) } else { model.removeLast(min(n, model.count)) }
                default:
                    if !model.isEmpty {
                        let i = Int.random(in: 0..<model.count, using: &rng)
                        l.set(e, at: i); model[i] = e
                    }
                }
                XCTAssertEqual(l.count, model.count, "fill \(fill) step \(step)")
            }
            XCTAssertEqual(l.elements, model, "fill \(fill)")
            var ranged: [[UInt8]] = []
            if model.count > 2 { l.forEach(from: 1, to: model.count - 2) { ranged.append(Array($0)) } }
            XCTAssertEqual(ranged, model.count > 2 ? Array(model[1...model.count - 2]) : [])
            XCTAssertEqual(l.nodeElements.flatMap { $0 }, model)
        }
    }

    func testCopyIsIndependent() {
        let l = ListObject(elements: [bytes("x"), bytes("y")])
        let c = l.copy()
        c.push(bytes("z"), left: false)
        XCTAssertEqual(l.count, 2)
        XCTAssertEqual(c.elements, [bytes("x"), bytes("y"), bytes("z")])
    }

    func testKeyspaceStoresListsWithTypeAndMemory() {
        let db = Keyspace()
        let l = ListObject(elements: (0..<100).map { bytes("v\($0)") })
        let slot = db.set(bytes("q"), value: .list(l), now: 0)
        XCTAssertEqual("\(db.typeName(at: slot))", "list")
        XCTAssertGreaterThan(db.memoryUsage(at: slot), 300)
        XCTAssertLessThan(db.memoryUsage(at: slot), 1000, "~4 bytes of payload per element, packed")
    }
}
