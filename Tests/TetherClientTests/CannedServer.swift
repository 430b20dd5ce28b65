import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A unix-socket server for one connection: it reads one request and answers with canned bytes.
///
/// Its thread is its only user of the sockets; the test reads `received` only after the thread is done.
final class CannedServer: @unchecked Sendable {
    let directory: String
    var socketPath: String { directory + "/s" }
    private let listener: Int32
    private let answer: [UInt8]?
    /// False: answer (or close) at once, with the request unread, as tetherd does to a refused peer.
    private let reading: Bool
    /// Set: the answer goes out one byte per `trickle`, as a stalled or hostile peer would send it.
    private let trickle: Duration?
    private let done = DispatchSemaphore(value: 0)
    private var received: [UInt8] = []

    /// - Parameter answer: the bytes to send back, or nil to never answer and wait for the client to leave.
    private init(answer: [UInt8]?, reading: Bool, trickle: Duration?) throws {
        var template = Array("/tmp/tcl-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        directory = String(cString: made)
        self.answer = answer
        self.reading = reading
        self.trickle = trickle
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array((directory + "/s").utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 1) == 0 else {
            let error = errno
            cleanUp()
            throw POSIXError(.init(rawValue: error) ?? .EIO)
        }
        // A test whose client never connects must not hang: accept gives up after 10 s.
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Runs `body` with the socket path of a server answering `answer`, then returns what it
    /// returned and the request the server received. Removes the socket and its directory on
    /// success and on error.
    static func with<Value>(
        answer: String?, reading: Bool = true, trickle: Duration? = nil, _ body: (String) async throws -> Value
    ) async throws -> (value: Value, request: String) {
        let server = try CannedServer(answer: answer.map { Array($0.utf8) }, reading: reading, trickle: trickle)
        defer { server.cleanUp() }
        Thread { server.serve() }.start()
        let value: Value
        do {
            value = try await body(server.socketPath)
        } catch {
            server.stop()
            throw error
        }
        server.stop()
        return (value, String(decoding: server.received, as: UTF8.self))
    }

    private func serve() {
        defer { done.signal() }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        guard reading else {
            if let answer { _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
            return
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !requestComplete {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return }
            received += buffer[..<count]
        }
        guard let answer else {
            // Hold the connection until the client gives up and closes it.
            while buffer.withUnsafeMutableBytes({ recv(connection, $0.baseAddress, $0.count, 0) }) > 0 {}
            return
        }
        if let trickle {
            let pause = Double(trickle.components.seconds) + Double(trickle.components.attoseconds) / 1e18
            // Until the client gives up and the send fails.
            for byte in answer {
                guard [byte].withUnsafeBytes({ send(connection, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) }) == 1 else { return }
                Thread.sleep(forTimeInterval: pause)
            }
            return
        }
        _ = answer.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Headers read, and as many body bytes as Content-Length says.
    private var requestComplete: Bool {
        let text = String(decoding: received, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let length = text[..<end.lowerBound].split(separator: "\r\n")
            .first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        return text.utf8.count - text.utf8.distance(from: text.startIndex, to: end.upperBound) >= length
    }

    /// Wakes a pending accept and waits for the server thread to finish.
    private func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        done.wait()
    }

    private func cleanUp() {
        close(listener)
        unlink(socketPath)
        rmdir(directory)
    }
}
