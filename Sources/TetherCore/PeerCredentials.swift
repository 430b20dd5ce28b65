#if canImport(Glibc)
import Glibc
#endif

/// Who is at the other end of a unix socket, as the kernel recorded it at connect(2) or
/// listen(2): `struct ucred` of `SO_PEERCRED`.
///
/// Glibc declares `struct ucred` only under `_GNU_SOURCE`, so Swift does not import it; this
/// struct has its layout (pid_t, uid_t, gid_t: three 32-bit fields in that order), which
/// `getsockopt` fills directly.
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid)" }

    /// The credentials of the peer of the connected unix socket `fd`, nil when the kernel gives none.
    /// The corresponding C function is `getsockopt(SOL_SOCKET, SO_PEERCRED)`.
    public static func of(socket fd: Int32) -> PeerCredentials? {
        var credentials = PeerCredentials(pid: 0, uid: 0, gid: 0)
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
            Int(length) == MemoryLayout<PeerCredentials>.size
        else { return nil }
        return credentials
    }
}
