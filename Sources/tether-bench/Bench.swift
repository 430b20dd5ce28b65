import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting

/// Benchmarks network-mode iSCSI attach and detach through tetherd's API against a private
/// tgtd, and reports the agent's idle RSS. Run it with scripts/bench.sh (private network
/// namespace, release build). Prints figures; asserts nothing.
@main
struct Bench {
    static func main() async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "cinder" {
            try await CinderBench.run(runs: Int(arguments.dropFirst().first ?? "") ?? 30)
            return
        }
        if arguments.first == "compare" {
            try await Comparison.run(Array(arguments.dropFirst()))
            return
        }
        if arguments.first == "rbd" {
            try await RBDBench.run(runs: Int(arguments.dropFirst().first ?? "") ?? 100)
            return
        }
        let runs = Int(arguments.first ?? "") ?? 100
        let tgtd = try Tgtd.start()
        defer { tgtd.stop() }
        let agent = try AgentProcess(tgtd: tgtd)
        defer { agent.remove() }
        let client = TetherAgentClient(socketPath: agent.socketPath)

        try await Task.sleep(for: .seconds(1))
        let idleRSS = residentKiB(pid: agent.pid)

        let export = try await client.createExport(CreateExportRequest(
            volume: .init(id: "bench-vol", path: tgtd.directory.file("bench.img"), sizeBytes: 64 << 20),
            connector: ConnectorProperties(initiator: agent.initiator))).export
        let request = CreateAttachmentRequest(connectionInfo: export.connectionInfo)

        // Warm-up, not counted.
        for _ in 0..<5 {
            let attachment = try await client.attach(request).attachment
            _ = try await client.detach(attachment.id)
        }
        var attach: [Duration] = []
        var detach: [Duration] = []
        let clock = ContinuousClock()
        for _ in 0..<runs {
            var id = ""
            attach.append(try await clock.measure { id = try await client.attach(request).attachment.id })
            detach.append(try await clock.measure { _ = try await client.detach(id) })
        }

        // 16 volumes at once, as the acceptance test does, timed as a whole.
        var infos: [ConnectionInfo] = []
        for index in 0..<16 {
            infos.append(try await client.createExport(CreateExportRequest(
                volume: .init(id: "bench-par-\(index)", path: tgtd.directory.file("par-\(index).img"), sizeBytes: 16 << 20),
                connector: ConnectorProperties(initiator: agent.initiator))).export.connectionInfo)
        }
        let parallel = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for info in infos { group.addTask { _ = try await client.attach(CreateAttachmentRequest(connectionInfo: info)) } }
                try await group.waitForAll()
            }
        }
        let busyRSS = residentKiB(pid: agent.pid)

        print("network-mode iSCSI through tetherd's API, tgtd on loopback, 2 portals, CHAP, \(runs) runs")
        print(row("attach", attach))
        print(row("detach", detach))
        print(pad("16 attaches at once") + String(format: "total  %6.1f ms", milliseconds(parallel)))
        print("tetherd RSS idle: \(idleRSS) KiB; after \(runs + 16) attaches: \(busyRSS) KiB")
    }

    static func row(_ name: String, _ samples: [Duration]) -> String {
        let sorted = samples.sorted()
        let median = sorted[sorted.count / 2]
        let p99 = sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.99).rounded(.up)) - 1)]
        return pad(name) + String(format: "median %6.2f ms   p99 %6.2f ms   min %6.2f ms   max %6.2f ms",
            milliseconds(median), milliseconds(p99), milliseconds(sorted[0]), milliseconds(sorted[sorted.count - 1]))
    }

    static func pad(_ name: String) -> String {
        name.padding(toLength: 24, withPad: " ", startingAt: 0)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func residentKiB(pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
    }
}
