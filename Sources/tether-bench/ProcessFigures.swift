import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// CPU and memory of a process as the kernel counts them (/proc), for the CPU-per-operation and
/// idle-memory rows. The bench is a lab tool, not Tether: it reads /proc directly.
enum ProcessFigures {
    /// utime + stime of `pid` (/proc/PID/stat fields 14 and 15, in clock ticks: 10 ms
    /// resolution, so only sums over many operations mean anything).
    static func cpu(pid: Int32) throws -> Duration {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) may hold spaces and parentheses: count from its last ")".
        guard let close = stat.lastIndex(of: ")") else { throw TetherError(.internalError, "/proc/\(pid)/stat has no command name") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        guard fields.count > 12, let user = Int64(fields[11]), let system = Int64(fields[12]) else {
            throw TetherError(.internalError, "/proc/\(pid)/stat is not as expected: \(stat.prefix(200))")
        }
        let ticks = Int64(sysconf(Int32(_SC_CLK_TCK)))
        return .nanoseconds((user + system) * 1_000_000_000 / max(1, ticks))
    }

    /// This process's own CPU (getrusage: microsecond resolution), for the in-process floors.
    static func ownCPU() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let micros = Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
        return .microseconds(micros)
    }

    /// CPU `pid` spends while `body` runs.
    static func measuringCPU<Value>(of pid: Int32, _ body: () async throws -> Value) async throws -> (Value, Duration) {
        let before = try cpu(pid: pid)
        let value = try await body()
        return (value, try cpu(pid: pid) - before)
    }

    /// Resident set (VmRSS) and private memory (Private_Clean + Private_Dirty of smaps_rollup), in KiB.
    static func memory(pid: Int32) throws -> (residentKiB: Int, privateKiB: Int) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let rollup = try String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8)
        func kib(_ text: String, _ key: String) throws -> Int {
            let line = text.split(separator: "\n").first { $0.hasPrefix(key + ":") }
            guard let line, let value = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int($0) }) else {
                throw TetherError(.internalError, "no \(key) for process \(pid)")
            }
            return value
        }
        return (try kib(status, "VmRSS"), try kib(rollup, "Private_Clean") + kib(rollup, "Private_Dirty"))
    }

    /// Runs `body` on a thread of its own: the floors call blocking C libraries and must not
    /// block the cooperative pool, nor pay a hop per call.
    static func onThread<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }
}
