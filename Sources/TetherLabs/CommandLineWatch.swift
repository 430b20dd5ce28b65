import Foundation
import Synchronization

/// Reads the command line of every process on the machine, over and over on a thread of its own,
/// while a test does something: a secret that reaches argv, even of a program that runs for a
/// millisecond, is caught while that program runs (a check after the fact sees nothing).
public final class CommandLineWatch: Sendable {
    public struct Report: Sendable {
        /// Full scans of /proc made.
        public var passes: Int
        /// Every process seen, with its command line (NULs as spaces), by PID.
        public var seen: [Int32: String]
        /// The command lines that held one of the watched texts.
        public var offending: [String]
    }

    private let texts: [String]
    private let state = Mutex(Report(passes: 0, seen: [:], offending: []))
    private let running = Atomic<Bool>(true)
    private let finished = Mutex<Bool>(false)

    /// Starts watching for any of `texts` (none may be empty).
    public init(for texts: [String]) {
        self.texts = texts.filter { !$0.isEmpty }
        Thread { [self] in loop() }.start()
    }

    /// Stops watching and says what was seen.
    public func stop() -> Report {
        running.store(false, ordering: .sequentiallyConsistent)
        while !finished.withLock({ $0 }) { usleep(1000) }
        return state.withLock { $0 }
    }

    private func loop() {
        defer { finished.withLock { $0 = true } }
        while running.load(ordering: .sequentiallyConsistent) {
            // /proc is always there; a failed listing is only a pass that saw nothing (counted).
            let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
            var seen: [Int32: String] = [:]
            var offending: [String] = []
            for pid in pids {
                // A process may end between the listing and the read; kernel threads have no command line.
                guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { continue }
                let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
                seen[pid] = line
                if texts.contains(where: { line.contains($0) }) { offending.append(line) }
            }
            state.withLock { report in
                report.passes += 1
                report.seen.merge(seen) { _, new in new }
                report.offending += offending
            }
        }
    }
}
