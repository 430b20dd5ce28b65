import TetherCore

#if canImport(Glibc)
import Glibc
#endif

extension TetherError.Code {
    public static let cephUnreachable = Self(rawValue: "ceph.unreachable")
    public static let cephFailed = Self(rawValue: "ceph.failed")
}

/// librados and librbd report errors as negative errnos; these turn them into Tether's errors.
enum RADOSFailure {
    static func text(_ code: Int32) -> String {
        String(decoding: Array(UnsafeBufferPointer(start: strerror(code), count: strlen(strerror(code)))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A failed `rados_connect`: on msgr2 a wrong key looks exactly like an unreachable cluster
    /// (ETIMEDOUT after client_mount_timeout), so the message says both.
    static func connect(_ code: Int32, cluster: String, user: String, monitors: String, limit: Duration) -> TetherError {
        TetherError(
            .cephUnreachable,
            "cannot connect to Ceph cluster \(cluster) as client.\(user) at \(monitors): unreachable or wrong credentials (\(text(code)))",
            hint: "check the monitors and the key of client.\(user) in the cluster registry (tether cluster show \(cluster)); the limit is \(limit)")
    }

    static func error(_ code: Int32, _ what: String, cluster: String, missing: String? = nil) -> TetherError {
        switch code {
        case ENOENT where missing != nil:
            return TetherError(.notFound, "\(missing!) does not exist in Ceph cluster \(cluster)", hint: "check the name in connection_info")
        case EACCES, EPERM:
            return TetherError(.cephFailed, "not allowed to \(what) in Ceph cluster \(cluster) (\(text(code)))", hint: "check the user's caps (profile rbd on this pool)")
        case ETIMEDOUT:
            return TetherError(.timedOut, "\(what) in Ceph cluster \(cluster) timed out", hint: "check that the cluster's OSDs are up")
        default:
            return TetherError(.cephFailed, "cannot \(what) in Ceph cluster \(cluster): \(text(code))")
        }
    }
}
