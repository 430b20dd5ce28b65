#if canImport(Glibc)
import Glibc
#endif

/// Connecting to a unix stream socket: the agent's API, tgtd's control socket.
public enum UnixSocket {
    public enum Failure: Error, Sendable, Equatable {
        /// Empty, or holds a NUL byte.
        case invalidPath
        /// Longer than `sockaddr_un` can hold (`limit` bytes).
        case pathTooLong(limit: Int)
        /// socket(2) or connect(2) failed with this errno.
        case system(errno: Int32)
    }

    /// The longest path a unix socket address holds.
    public static var maximumPathLength: Int {
        MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1
    }

    /// Connects to `path` and returns the descriptor (close-on-exec). With a `timeout`, sends and
    /// receives on it time out too; on Linux a connect to a full backlog waits under SO_SNDTIMEO.
    public static func connect(to path: String, timeout: Duration? = nil) -> Result<Int32, Failure> {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, !bytes.contains(0) else { return .failure(.invalidPath) }
        guard bytes.count <= maximumPathLength else { return .failure(.pathTooLong(limit: maximumPathLength)) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.system(errno: errno)) }
        if let timeout {
            var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
        var result: Int32
        repeat {
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
            }
        } while result != 0 && errno == EINTR
        guard result == 0 else {
            let error = errno
            close(fd)
            return .failure(.system(errno: error))
        }
        return .success(fd)
    }

    /// Whether something accepts connections on `path` now.
    public static func answers(_ path: String) -> Bool {
        guard case .success(let fd) = connect(to: path) else { return false }
        close(fd)
        return true
    }
}
