import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// A small blocking HTTP/1.1 client over a unix domain socket: one connection per request.
///
/// tetherd listens only on a unix socket, and the CLI makes one request per run, so this needs
/// neither a connection pool nor an event loop.
public struct UnixHTTPClient: Sendable {
    /// Attaching a volume (logins, device settling, multipath) can take a minute or more.
    public static let defaultTimeout: Duration = .seconds(120)
    /// More than any answer of tetherd; guards against a runaway peer.
    public static let maximumResponseSize = 64 << 20

    public var socketPath: String
    /// How long one exchange may take, connecting to the last byte of the answer: a deadline for
    /// the whole of it, so an agent that trickles bytes cannot stretch it.
    public var timeout: Duration

    public init(socketPath: String, timeout: Duration = Self.defaultTimeout) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// Sends `request` and reads the whole response, blocking the calling thread.
    ///
    /// - Throws: `TetherError` with code `.agentUnavailable` when the socket cannot be reached or
    ///   the peer closes it early, `.agentDenied` when the running agent closed it without reading
    ///   the request (it refuses this user), `.timedOut` when it does not answer in time,
    ///   `.internalError` when the answer is not HTTP, `.invalidInput` when `socketPath` cannot be
    ///   a socket address.
    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let socket = try connect()
        defer { close(socket) }
        let agent = Self.peerPID(socket)
        let sent = try writeAll(request.serialized(), to: socket, deadline: deadline)
        return try readResponse(from: socket, requestSent: sent, agent: agent, deadline: deadline)
    }

    /// `send(_:)` on a thread of its own, so the blocking socket calls stay off the cooperative
    /// pool and many requests at once really run at once (see `blockingCall`).
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await blockingCall("tether-http") { try send(request) }
    }

    private func connect() throws -> Int32 {
        switch UnixSocket.connect(to: socketPath, timeout: timeout) {
        case .success(let fd):
            return fd
        case .failure(.invalidPath):
            throw TetherError.invalidInput("\"\(socketPath)\" is not a socket path", hint: "pass --socket PATH or set TETHER_SOCKET")
        case .failure(.pathTooLong(let limit)):
            throw TetherError.invalidInput(
                "socket path \(socketPath) is longer than a unix socket address allows (\(limit) bytes)",
                hint: "use a shorter --socket path")
        case .failure(.system(let error)):
            throw TetherError.agentUnavailable(socketPath: socketPath, errno: error)
        }
    }

    /// Sends all of `bytes`; false when the agent closed its end first. It may have answered
    /// before it did (413 for a body over its limit), so the caller still reads.
    private func writeAll(_ bytes: [UInt8], to fd: Int32, deadline: ContinuousClock.Instant) throws -> Bool {
        var offset = 0
        while offset < bytes.count {
            try wait(fd, for: Int16(POLLOUT), until: deadline, while: "sending the request")
            // MSG_NOSIGNAL: a peer that went away must fail this call, not kill the process with SIGPIPE.
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE || errno == ECONNRESET { return false }
                throw ioFailure(errno, while: "sending the request")
            }
            offset += written
        }
        return true
    }

    private func readResponse(from fd: Int32, requestSent: Bool, agent: Int32?, deadline: ContinuousClock.Instant) throws -> HTTPResponse {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            try wait(fd, for: Int16(POLLIN), until: deadline, while: "reading the response")
            let count = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                // A reset: the agent closed with our request unread (it refused us, or died first).
                if errno == ECONNRESET {
                    if received.isEmpty { throw closedUnread(agent: agent) }
                    if let response = try HTTPResponse.parse(received, atEnd: true) { return response }
                }
                throw ioFailure(errno, while: "reading the response")
            }
            if count == 0, received.isEmpty, !requestSent {
                throw closedUnread(agent: agent)
            }
            if count == 0, received.isEmpty {
                // tetherd read the request and went away: it exited or was killed mid-operation.
                throw TetherError(
                    .agentUnavailable, "tetherd at \(socketPath) closed the connection without answering",
                    hint: "it may have stopped mid-operation; when it is back, its recovery finishes or undoes the operation: check with `tether list` before retrying")
            }
            received += buffer[..<count]
            guard received.count <= Self.maximumResponseSize else {
                throw TetherError(.internalError, "tetherd at \(socketPath) sent more than \(Self.maximumResponseSize) bytes")
            }
            // Stop as soon as the response is complete, in case the server keeps the connection open.
            if let response = try HTTPResponse.parse(received, atEnd: count == 0) {
                return response
            }
        }
    }

    /// The agent closed the connection before it read the request. tetherd does that to a peer
    /// that is neither root nor in the socket's group; if the agent is gone, it may have died.
    private func closedUnread(agent: Int32?) -> TetherError {
        let group = Self.socketGroup(socketPath)
        let membership = "only root and members of the socket's group \(group) may use tetherd"
        // kill(pid, 0): EPERM means the process exists but belongs to someone else (root).
        if let agent, agent > 0, kill(agent, 0) == 0 || errno == EPERM {
            return TetherError(
                .agentDenied, "tetherd (pid \(agent)) at \(socketPath) closed the connection without reading the request: it does not accept uid \(getuid())",
                hint: "\(membership): run tether as root, or add this user to \(group) (usermod -aG \(group) USER) and log in again")
        }
        return TetherError(
            .agentUnavailable, "tetherd at \(socketPath) closed the connection without reading the request",
            hint: "check that tetherd is still running (its log says why it closed the connection); \(membership)")
    }

    /// The pid of the process that listens on the connected socket, nil when unknown (another
    /// pid namespace answers 0).
    static func peerPID(_ fd: Int32) -> Int32? {
        guard let agent = PeerCredentials.of(socket: fd), agent.pid > 0 else { return nil }
        return agent.pid
    }

    /// The name of the group `path` belongs to, for hints; "gid N" when it has no name, "its
    /// group" when the path cannot be read.
    static func socketGroup(_ path: String) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { return "(the socket's group)" }
        return UnixGroups.name(ofGroup: info.st_gid) ?? "gid \(info.st_gid)"
    }

    /// Returns once `fd` is ready for `events` (or hung up: the next call says how), or throws
    /// `timed_out` when `deadline` comes first.
    private func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, while doing: String) throws {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw timedOut(while: doing) }
            // Rounded up, so the last wait does not spin on a 0 ms poll; a day fits an Int32 of ms.
            let milliseconds = Int32(min((left / .milliseconds(1)).rounded(.up), Double(Int32.max)))
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw ioFailure(errno, while: doing) }
        }
    }

    private func timedOut(while doing: String) -> TetherError {
        TetherError(
            .timedOut, "tetherd at \(socketPath) did not answer within \(Self.seconds(timeout)) while \(doing)",
            hint: "the operation may still be running in tetherd; check with `tether list` before retrying")
    }

    /// "120 s", or "250 ms" below a second, for messages.
    public static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return attoseconds == 0 ? "\(seconds) s" : "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
    }

    private func ioFailure(_ error: Int32, while doing: String) -> TetherError {
        // SO_RCVTIMEO/SO_SNDTIMEO from connecting: only a connect to a full backlog meets them.
        if error == EAGAIN || error == EWOULDBLOCK {
            return timedOut(while: doing)
        }
        return TetherError(
            .agentUnavailable, "lost the connection to tetherd at \(socketPath) while \(doing): \(Self.errorText(error))",
            hint: "check that tetherd is still running (its log says why it closed the connection)")
    }

    static func errorText(_ error: Int32) -> String {
        String(cString: strerror(error))
    }
}
