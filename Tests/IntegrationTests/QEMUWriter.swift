import Foundation
import TetherAPI
import TetherCore
import TetherLinux
import TetherTesting

#if canImport(Glibc)
import Glibc
#endif

/// A running writer of an attached volume: qemu-io with Tether's QEMU description, kept open and
/// fed one command at a time on stdin, as a VM's QEMU holds its disk. Its librbd takes the image's
/// exclusive lock at the first write and keeps it while it runs.
final class QEMUWriter: @unchecked Sendable {
    let pid: pid_t
    private var input: Int32
    let log: TemporaryDirectory

    init(_ attachment: AttachmentBody, node: NodeNetwork.Node? = nil) throws {
        log = try TemporaryDirectory(prefix: "qio")
        let arguments = try QEMU.imageArguments(attachment)
        let (program, argv) = node?.command("qemu-io", arguments) ?? ("qemu-io", arguments)
        let started = try ChildProcess.start(Lab.find(program) ?? program, argv, environment: [:], stdout: log.file("out"), stderr: log.file("out"))
        pid = started.pid
        input = started.stdin
    }

    var output: String { (try? String(contentsOfFile: log.file("out"), encoding: .utf8)) ?? "" }  // not written yet: nothing to show

    /// Sends one qemu-io command and waits (at most `timeout`) for its result line: what it
    /// printed since.
    func run(_ command: String, timeout: TimeInterval = 60) throws -> String {
        let before = output.utf8.count
        let line = Array((command + "\n").utf8)
        guard line.withUnsafeBytes({ write(input, $0.baseAddress, $0.count) }) == line.count else {
            throw TetherError(.internalError, "qemu-io (pid \(pid)) does not take input: \(output)")
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let new = String(decoding: output.utf8.dropFirst(before), as: UTF8.self)
            // qemu-io answers a command with its counts ("wrote 4096/4096 bytes") or "... failed: ...".
            if new.contains("bytes at offset") || new.contains("failed") { return new }
            usleep(50_000)
        }
        throw TetherError(.timedOut, "qemu-io gave no result for \(command) within \(timeout) s: \(output)")
    }

    /// Kills it (a VM's QEMU ending) and removes its log.
    func stop() {
        if input >= 0 {
            close(input)
            input = -1
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        log.remove()
    }
}
