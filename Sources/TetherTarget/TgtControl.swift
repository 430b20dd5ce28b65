import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// Sends management requests to a tgtd.
public protocol TgtControl: Sendable {
    func send(_ request: TgtRequest) async throws -> TgtResponse
}

/// tgtd's control socket: `<path>.<control port>` (tgtadm's `TGT_IPC_SOCKET` and `-C`).
/// One connection per request, as tgtadm does; I/O runs off the cooperative pool with socket timeouts.
public struct TgtSocketControl: TgtControl {
    public let socketPath: String
    public let timeout: Duration

    /// - Parameters:
    ///   - socketBase: tgtd's socket path without the ".N" suffix (default `/var/run/tgtd/socket`).
    ///   - controlPort: tgtd's `-C` number.
    public init(socketBase: String = "/var/run/tgtd/socket", controlPort: Int = 0, timeout: Duration = .seconds(10)) {
        self.socketPath = "\(socketBase).\(controlPort)"
        self.timeout = timeout
    }

    public func send(_ request: TgtRequest) async throws -> TgtResponse {
        let path = socketPath
        let timeout = timeout
        return try await blockingCall("tether-tgtd") { try Self.exchange(request, path: path, timeout: timeout) }
    }

    static func exchange(_ request: TgtRequest, path: String, timeout: Duration) throws -> TgtResponse {
        let fd: Int32
        switch UnixSocket.connect(to: path, timeout: timeout) {
        case .success(let connected):
            fd = connected
        case .failure(.system(let error)):
            throw TetherError(.targetFailed, "cannot reach tgtd at \(path): \(String(cString: strerror(error)))", hint: "start tgtd, or set [target] tgt_socket and tgt_control_port in tether.toml")
        case .failure:
            throw TetherError.invalidInput("tgtd socket path \(path) is not a usable unix socket path")
        }
        defer { Glibc.close(fd) }
        try writeAll(fd, request.encoded, path: path)
        let header = try readExactly(fd, 8, path: path)
        let status = header[0..<4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let length = Int(header[4..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        let body = length > 8 ? try readExactly(fd, length - 8, path: path) : []
        let text = String(decoding: body.prefix { $0 != 0 }, as: UTF8.self)
        return TgtResponse(status: TgtStatus(rawValue: status), text: text)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw failure("write", path: path) }
            offset += written
        }
    }

    static func readExactly(_ fd: Int32, _ count: Int, path: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = buffer[offset...].withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw failure("read", path: path) }
            offset += got
        }
        return buffer
    }

    static func failure(_ call: String, path: String) -> TetherError {
        let reason = errno == EAGAIN ? "no answer in time" : String(cString: strerror(errno))
        return TetherError(.targetFailed, "tgtd control socket \(path): \(call) failed: \(reason)")
    }
}
