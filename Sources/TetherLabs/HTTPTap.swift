import Foundation
import Synchronization
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// A TCP relay in front of an HTTP server that lets a test act at an exact request: take the
/// server down, kill a client, or drop the request. One request per connection: it asks the
/// server to close after each answer.
public final class HTTPTap: @unchecked Sendable {
    public enum Verdict: Sendable {
        case forward
        /// Close the client's connection without an answer.
        case drop
        /// Forward the request, let the server act on it, and close the client's connection
        /// without its answer (kept in `lostAnswers`): a reply lost on the way back.
        case loseAnswer
    }

    /// The answers `.loseAnswer` kept from the client, in order.
    public var lostAnswers: [String] { lost.withLock { $0 } }
    private let lost = Mutex<[String]>([])

    public let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let decide: Mutex<@Sendable (String) -> Verdict>
    private let stopped = Mutex(false)

    /// Listens on 127.0.0.1 at `listenPort` (0: a free port) and relays to 127.0.0.1:`upstreamPort`.
    public init(upstreamPort: Int, listenPort: Int = 0) throws {
        self.upstreamPort = upstreamPort
        decide = Mutex({ _ in .forward })
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: listenPort)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw TetherError(.internalError, "HTTPTap cannot listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in acceptLoop() }.start()
    }

    /// From now on, `rule` sees each request line ("POST /v3/p/attachments/x/action HTTP/1.1" plus
    /// the body's first bytes) and decides; it runs on the relay's thread and may block.
    public func onRequest(_ rule: @escaping @Sendable (String) -> Verdict) {
        decide.withLock { $0 = rule }
        wholeHead.withLock { $0 = false }
    }

    /// Like `onRequest`, but `rule` sees the whole head (request line and headers) and the body's
    /// first bytes: for a test that acts on a header, such as the token a client sends.
    public func onRequestHead(_ rule: @escaping @Sendable (String) -> Verdict) {
        decide.withLock { $0 = rule }
        wholeHead.withLock { $0 = true }
    }
    private let wholeHead = Mutex(false)

    public func stop() {
        stopped.withLock { $0 = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while !stopped.withLock({ $0 }) {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            Thread { [self] in serve(client) }.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        guard let request = Self.readRequest(client) else { return }
        let head = String(decoding: request.prefix(4096), as: UTF8.self)
        let summary = head.split(separator: "\r\n").first.map(String.init) ?? ""
        let body = head.components(separatedBy: "\r\n\r\n").dropFirst().joined()
        let rule = decide.withLock { $0 }
        let verdict = rule(wholeHead.withLock { $0 } ? head : summary + " " + body)
        guard verdict != .drop else { return }

        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(upstream) }
        var address = Self.loopback(port: upstreamPort)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return }
        guard Self.writeAll(upstream, Self.closing(request)) else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var answer: [UInt8] = []
        while true {
            let count = read(upstream, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            if verdict == .loseAnswer {
                answer += buffer[0..<count]
            } else if !Self.writeAll(client, Array(buffer[0..<count])) {
                return
            }
        }
        if verdict == .loseAnswer {
            lost.withLock { $0.append(String(decoding: answer, as: UTF8.self)) }
        }
    }

    /// One request: the head, then Content-Length bytes of body.
    private static func readRequest(_ fd: Int32) -> [UInt8]? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let end = find(separator, in: data) {
                let head = String(decoding: data[..<end], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if data.count >= end + 4 + length { return data }
            }
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            data += buffer[0..<count]
        }
    }

    /// The request with "Connection: close", so the answer ends where the server closes.
    private static func closing(_ request: [UInt8]) -> [UInt8] {
        guard let end = find(Array("\r\n\r\n".utf8), in: request) else { return request }
        let lines = String(decoding: request[..<end], as: UTF8.self).split(separator: "\r\n").filter { !$0.lowercased().hasPrefix("connection:") }
        return Array((lines.joined(separator: "\r\n") + "\r\nConnection: close").utf8) + request[end...]
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return false }
            offset += written
        }
        return true
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        return address
    }
}
