import Foundation
import NIOPosix
import XCTest
@testable import LarderServer
@testable import LarderServing

/// POST /materialize and /materialize-incremental over a materializer that blocks until told:
/// the run is off the event loop, a second request meanwhile gets 409, bad input gets Feast's
/// codes, and /metrics counts the run.
final class HTTPMaterializeTests: XCTestCase {
    final class BlockingMaterializer: ServingMaterializer, @unchecked Sendable {
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        var requests: [MaterializeRequest] = []

        func plan(_ request: MaterializeRequest) throws -> MaterializationPlan {
            if request.views == ["nope"] { throw ServingError(.featureViewNotFound, "Feature view nope does not exist in project demo") }
            requests.append(request)
            return Plan(owner: self, views: request.views ?? ["stats"])
        }

        final class Plan: MaterializationPlan {
            let owner: BlockingMaterializer
            let views: [String]
            init(owner: BlockingMaterializer, views: [String]) { self.owner = owner; self.views = views }
            func run(finished: (MaterializedView) -> Void) throws {
                owner.started.signal()
                owner.release.wait()
                finished(MaterializedView(view: views[0], rowsRead: 10, written: 4, seconds: 0.5))
            }
        }
    }

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    override func tearDown() { try? group.syncShutdownGracefully() }

    func makeAPI() throws -> (HTTPFeatureAPI, BlockingMaterializer) {
        let state = ServerState(settings: ServerSettings(port: 0, threads: 1, pinThreads: false))
        let api = HTTPFeatureAPI(server: state, serving: ServingState(catalog: try makeCatalog(), repoDirectory: "/tmp"))
        let m = BlockingMaterializer()
        api.materializer = m
        return (api, m)
    }

    /// Sends one request; the reply as (status, body text), waiting up to 10 s for it.
    func send(_ api: HTTPFeatureAPI, _ method: String, _ path: String, _ body: String = "") -> (Int, String)? {
        let done = DispatchSemaphore(value: 0)
        var reply: HTTPReply?
        api.handle(method: method, path: path, body: Array(body.utf8), loop: group.next()) { reply = $0; done.signal() }
        guard done.wait(timeout: .now() + 10) == .success, let reply else { return nil }
        return (reply.status, String(decoding: reply.body, as: UTF8.self))
    }

    func testOneRunAtATimeOffTheLoopCountedInMetrics() throws {
        let (api, m) = try makeAPI()
        let first = DispatchSemaphore(value: 0)
        var firstReply: HTTPReply?
        api.handle(method: "POST", path: "/materialize", body: Array(#"{"start_ts": "2025-01-01T00:00:00", "end_ts": "2025-01-04T00:00:00"}"#.utf8),
                   loop: group.next()) { firstReply = $0; first.signal() }
        XCTAssertEqual(m.started.wait(timeout: .now() + 10), .success, "the run started")
        XCTAssertEqual(m.requests.first?.start, "2025-01-01T00:00:00")
        // The run blocks its own queue, not the caller: other requests are answered meanwhile.
        XCTAssertEqual(send(api, "GET", "/health")?.0, 200)
        let conflict = try XCTUnwrap(send(api, "POST", "/materialize-incremental", #"{"end_ts": "2025-01-08T00:00:00"}"#))
        XCTAssertEqual(conflict.0, 409)
        let body = try JSONSerialization.jsonObject(with: Data(conflict.1.utf8)) as! [String: Any]
        XCTAssertEqual(body["feature_views"] as? [String], ["stats"])
        XCTAssertTrue((body["error"] as? String ?? "").contains("another one is running"))
        var text = ""
        api.serving.metrics.exposition(into: &text)
        XCTAssertTrue(text.contains("larder_materialization_running 1\n"))
        XCTAssertNil(firstReply, "a synchronous request is answered when its run ends")
        m.release.signal()
        XCTAssertEqual(first.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(firstReply?.status, 200)
        XCTAssertEqual(firstReply.map { String(decoding: $0.body, as: UTF8.self) }, "null")
        text = ""
        api.serving.metrics.exposition(into: &text)
        XCTAssertTrue(text.contains(#"larder_materializations_total{feature_view="stats",kind="materialize",result="ok"} 1"#), text)
        XCTAssertTrue(text.contains(#"larder_materialization_rows_read_total{feature_view="stats",kind="materialize"} 10"#))
        XCTAssertTrue(text.contains(#"larder_materialization_duration_seconds_count{feature_view="stats",kind="materialize"} 1"#))
        XCTAssertTrue(text.contains("larder_materialization_last_success_timestamp_seconds{feature_view=\"stats\",kind=\"materialize\"}"))
        XCTAssertTrue(text.contains("larder_materialization_running 0\n"))
    }

    func testAsyncAnswers202AtOnceWithTheViews() throws {
        let (api, m) = try makeAPI()
        let reply = try XCTUnwrap(send(api, "POST", "/materialize-incremental?async=true", #"{"end_ts": "2025-01-08T00:00:00", "feature_views": ["stats"]}"#))
        XCTAssertEqual(reply.0, 202)
        XCTAssertEqual(reply.1, #"{"status":"accepted","feature_views":["stats"]}"#)
        XCTAssertEqual(m.started.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(m.requests.first?.incremental, true)
        m.release.signal()
    }

    func testBadRequestsGetFeastsCodesAndNothingRuns() throws {
        let (api, m) = try makeAPI()
        let missing = try XCTUnwrap(send(api, "POST", "/materialize", #"{"end_ts": "2025-01-08T00:00:00"}"#))
        XCTAssertEqual(missing.0, 400)
        XCTAssertTrue(missing.1.contains("start_ts and end_ts are required"), missing.1)
        XCTAssertTrue(missing.1.contains("ValueError"))
        let noEnd = try XCTUnwrap(send(api, "POST", "/materialize-incremental", "{}"))
        XCTAssertEqual(noEnd.0, 422)
        XCTAssertTrue(noEnd.1.contains("end_ts"))
        let unknown = try XCTUnwrap(send(api, "POST", "/materialize", #"{"start_ts": "0", "end_ts": "1", "feature_views": ["nope"]}"#))
        XCTAssertEqual(unknown.0, 404)
        XCTAssertTrue(unknown.1.contains("FeatureViewNotFoundException"))
        let badList = try XCTUnwrap(send(api, "POST", "/materialize", #"{"start_ts": "0", "end_ts": "1", "feature_views": "stats"}"#))
        XCTAssertEqual(badList.0, 422)
        XCTAssertEqual(send(api, "POST", "/materialize", "{not json")?.0, 422)
        XCTAssertEqual(send(api, "GET", "/materialize")?.0, 405)
        XCTAssertTrue(m.requests.isEmpty)
    }

    func testNoMaterializerIs503() throws {
        let (api, _) = try makeAPI()
        api.materializer = nil
        XCTAssertEqual(send(api, "POST", "/materialize", #"{"start_ts": "0", "end_ts": "1"}"#)?.0, 503)
    }

    func testCommandLatencyBucketsArePowersOfTwoFromOneMicrosecond() {
        XCTAssertEqual(ShardWorker.latencyBucket(nanos: 0), 0)
        XCTAssertEqual(ShardWorker.latencyBucket(nanos: 1024), 0)
        XCTAssertEqual(ShardWorker.latencyBucket(nanos: 1025), 1)
        XCTAssertEqual(ShardWorker.latencyBucket(nanos: 2048), 1)
        XCTAssertEqual(ShardWorker.latencyBucket(nanos: 1 << 30), 20)
        XCTAssertEqual(ShardWorker.latencyBucket(nanos: (1 << 30) + 1), 21)
        XCTAssertEqual(ShardWorker.latencyBucket(nanos: Int.max), 21)
        XCTAssertEqual(ServerMetricsSnapshot.latencyBucketBounds.count, ShardWorker.latencyBucketCount - 1)
        XCTAssertEqual(ServerMetricsSnapshot.latencyBucketBounds[0], 1.024e-6)
    }
}
