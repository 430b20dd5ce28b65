import Foundation
import TetherLinux
import TetherFakes

#if canImport(Glibc)
import Glibc
#endif

/// A stand-in for tetherd on a unix socket, for the timings and answers a real agent cannot be
/// made to give on demand: it reads one request, waits `delay`, then answers `answer`, or never
/// answers (nil) and holds the connection until the client leaves.
///
/// Its thread is the only user of its sockets; `with` joins it before returning.
final class FakeAgent: @unchecked Sendable {
    let directory: TemporaryDirectory
    var socketPath: String { directory.file("s") }
    private let listener: Int32
    private let answer: String?
    private let delay: Duration
    private let done = DispatchSemaphore(value: 0)

    private init(answer: String?, delay: Duration) throws {
        directory = try TemporaryDirectory(prefix: "cli")
        self.answer = answer
        self.delay = delay
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(directory.file("s").utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 1) == 0 else {
            let error = errno
            close(listener)
            directory.remove()
            throw POSIXError(.init(rawValue: error) ?? .EIO)
        }
        // A client that never connects must not hang the test: accept gives up after 20 s.
        var limit = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// An HTTP answer with a JSON body.
    static func json(_ status: Int, _ body: String) -> String {
        "HTTP/1.1 \(status) X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    /// Runs `body` with the socket path of a fake agent; stops it and removes its directory after,
    /// on success and on error.
    static func with<Value>(answer: String?, delay: Duration = .zero, _ body: (String) throws -> Value) throws -> Value {
        let agent = try FakeAgent(answer: answer, delay: delay)
        Thread { agent.serve() }.start()
        defer {
            shutdown(agent.listener, Int32(SHUT_RDWR))
            agent.done.wait()
            close(agent.listener)
            agent.directory.remove()
        }
        return try body(agent.socketPath)
    }

    private func serve() {
        defer { done.signal() }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        // The request head is enough: the routes used here carry no body.
        while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            received += buffer[..<count]
        }
        guard let answer else {
            while buffer.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0 {}
            return
        }
        Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
        let bytes = Array(answer.utf8)
        _ = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

/// The built `tether`, run as a user or a script would.
enum CLI {
    /// The `tether` swift build put beside this test binary.
    static var binary: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("tether").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return "tether"
    }

    /// `tether arguments` with stdout and stderr in files: no terminal anywhere.
    static func run(_ arguments: [String], socket: String? = nil) throws -> ChildProcess.Exit {
        try ChildProcess.run(binary, arguments, environment: socket.map { ["TETHER_SOCKET": $0] } ?? [:], timeout: .seconds(60))
    }

    /// `tether arguments` on a pseudo-terminal (util-linux `script`): stdout and stderr are the
    /// terminal, and what it showed comes back as `stdout`.
    static func runOnTerminal(_ arguments: [String], socket: String, term: String = "xterm") throws -> ChildProcess.Exit {
        let command = ([binary] + arguments).map(shellQuoted).joined(separator: " ")
        return try ChildProcess.run(
            "/usr/bin/script", ["-qfec", command, "/dev/null"], environment: ["TETHER_SOCKET": socket, "TERM": term], timeout: .seconds(60))
    }

    /// `tether arguments` with its stderr into a pipe (`| cat`) and its stdout discarded: `stdout`
    /// is what it wrote to stderr.
    static func runIntoPipe(_ arguments: [String], socket: String) throws -> ChildProcess.Exit {
        let command = ([binary] + arguments).map(shellQuoted).joined(separator: " ")
        return try ChildProcess.run(
            "/bin/bash", ["-c", "set -o pipefail; \(command) 2>&1 >/dev/null | cat"], environment: ["TETHER_SOCKET": socket], timeout: .seconds(60))
    }

    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
