import Foundation
import TetherCore
import TetherTesting
import Testing

/// The built tetherd's stderr as journald sees it: systemd's JOURNAL_STREAM names the stream's
/// device and inode; here the stream is a log file, named or not.
@Suite(.tags(.integration), .timeLimit(.minutes(2)))
struct AgentJournaldTests {
    /// Starts tetherd with stderr appended to `log` and `environment`, waits until it serves,
    /// stops it with SIGTERM; answers its log lines.
    static func run(in directory: TemporaryDirectory, log: String, environment: [String: String]) throws -> [Substring] {
        let config = directory.file("tether.toml")
        try """
            socket = "\(directory.file("t.sock"))"
            state_dir = "\(directory.file("state"))"
            [iscsi]
            initiator = "iqn.2026-11.io.tether.test:journal"
            [libvirt]
            uri = ""
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let process = try SpawnedProcess(AgentProcess.binary, ["--config", config, "--log-level", "debug"], environment: environment, logPath: log)
        defer {
            if process.isRunning { kill(process.pid, SIGKILL) }
            process.wait()
        }
        let deadline = Date().addingTimeInterval(20)
        while !UnixSocket.answers(directory.file("t.sock")), process.isRunning, Date() < deadline { usleep(20_000) }
        #expect(UnixSocket.answers(directory.file("t.sock")))
        kill(process.pid, SIGTERM)
        #expect(process.wait() == 0)
        return (try String(contentsOfFile: log, encoding: .utf8)).split(separator: "\n")
    }

    static func streamName(_ path: String) throws -> String {
        var status = stat()
        try #require(stat(path, &status) == 0)
        return "\(status.st_dev):\(status.st_ino)"
    }

    static let priorities = ["trace": 7, "debug": 7, "info": 6, "notice": 5, "warning": 4, "error": 3, "critical": 2]

    @Test func journalLinesCarryTheirLevelsPriority() async throws {
        try await TemporaryDirectory.with(prefix: "jrn") { directory in
            let log = directory.file("stderr")
            #expect(FileManager.default.createFile(atPath: log, contents: nil))
            let lines = try Self.run(in: directory, log: log, environment: ["JOURNAL_STREAM": try Self.streamName(log)])
            #expect(lines.count >= 2, "\(lines)")
            for line in lines {
                let level = line.split(separator: " ").first { $0.hasPrefix("level=") }.map { String($0.dropFirst("level=".count)) } ?? ""
                let priority = try #require(Self.priorities[level], "\(line)")
                #expect(line.hasPrefix("<\(priority)>ts="), "\(line)")
            }
            #expect(lines.contains { $0.hasPrefix("<6>") })
        }
    }

    /// JOURNAL_STREAM inherited past a redirection names another file: plain logfmt.
    @Test func anotherStreamGetsPlainLogfmt() async throws {
        try await TemporaryDirectory.with(prefix: "jrn") { directory in
            let log = directory.file("stderr")
            let journal = directory.file("journal")
            #expect(FileManager.default.createFile(atPath: log, contents: nil))
            #expect(FileManager.default.createFile(atPath: journal, contents: nil))
            let lines = try Self.run(in: directory, log: log, environment: ["JOURNAL_STREAM": try Self.streamName(journal)])
            #expect(lines.count >= 2, "\(lines)")
            #expect(lines.allSatisfy { $0.hasPrefix("ts=") }, "\(lines)")
        }
    }
}
