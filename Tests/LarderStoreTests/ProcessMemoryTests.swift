import Foundation
import XCTest
import LarderStore

/// The one reader of the process's memory: INFO, MEMORY STATS and the per-view peaks that
/// materialization records for `--plan` all come from here.
final class ProcessMemoryTests: XCTestCase {
    func testResidentMemoryIsReadAndThePeakResets() {
        XCTAssertGreaterThan(ProcessMemory.residentBytes(), 1 << 20)
        let block = UnsafeMutableRawPointer.allocate(byteCount: 64 << 20, alignment: 16)
        memset(block, 1, 64 << 20)
        // Resident size first, then the peak: other threads (servers of earlier tests still
        // winding down) may grow the process between the two reads, never shrink its peak.
        let residentWithBlock = ProcessMemory.residentBytes()
        let peakWithBlock = ProcessMemory.peakSinceResetBytes()
        XCTAssertGreaterThanOrEqual(peakWithBlock, residentWithBlock - (1 << 20))
        XCTAssertGreaterThanOrEqual(peakWithBlock, 64 << 20)
        block.deallocate()
        ProcessMemory.resetPeak()
        XCTAssertLessThan(ProcessMemory.peakSinceResetBytes(), peakWithBlock - (32 << 20), "the kernel's high-water mark was reset")
        // The kernel counts resident pages in per-thread batches: equal within a megabyte.
        XCTAssertGreaterThanOrEqual(ProcessMemory.peakResidentBytes(), peakWithBlock - (1 << 20), "the process peak is kept")
    }

    func testSystemMemoryIsTheMachines() {
        XCTAssertGreaterThan(ProcessMemory.totalSystemBytes(), ProcessMemory.residentBytes())
    }
}
