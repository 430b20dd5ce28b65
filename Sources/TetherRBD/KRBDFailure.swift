import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

extension TetherError.Code {
    /// The cluster refused the user: wrong key or missing caps. Its last word makes it `denied`.
    public static let cephDenied = Self(rawValue: "ceph.denied")
}

/// The kernel answers a map or unmap write with an errno; these turn it into Tether's errors.
///
/// Nothing here repeats the host's error text unredacted: a `Host` may quote what was written,
/// and the add line holds the key.
enum KRBDFailure {
    /// Errnos the rbd driver and libceph answer with, in the order they are looked for in a message.
    static let knownErrnos: [Int32] = [
        ENOENT, EACCES, EPERM, ETIMEDOUT, EIO, ENXIO, EINVAL, EBUSY, EEXIST, ENODEV, ENOMEM, ECONNREFUSED, EHOSTUNREACH,
        ENETUNREACH, EROFS, ENOSPC, EOPNOTSUPP, ESHUTDOWN,
    ]

    static func text(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// The errno behind a failed write: a `POSIXError` (itself or as a `TetherError`'s cause), or
    /// the strerror text `LinuxHost` ends its message with. nil when it cannot be told.
    static func errno(of error: any Error) -> Int32? {
        if let posix = error as? POSIXError { return posix.code.rawValue }
        guard let tether = error as? TetherError else { return nil }
        if let posix = tether.cause as? POSIXError { return posix.code.rawValue }
        // LinuxHost: "the kernel refused the write to PATH: <strerror>"; same process, same locale.
        return knownErrnos.first { tether.message.hasSuffix(": " + text($0)) }
    }

    /// `message` without `key` and without any `secret=` value.
    static func redacted(_ message: String, key: Secret?) -> String {
        let text = key.map { key in key.reveal { $0.isEmpty ? message : message.replacingOccurrences(of: $0, with: "<redacted>") } } ?? message
        var result = ""
        var rest = text[...]
        while let found = rest.range(of: "secret=") {
            result += rest[..<found.upperBound] + "<redacted>"
            rest = rest[found.upperBound...].drop { $0 != "," && !$0.isWhitespace }
        }
        return result + rest
    }

    /// A refused write to `add`.
    static func mapFailed(_ error: any Error, request: KRBDMapRequest, cluster: String, key: Secret) -> TetherError {
        let image = "\(request.spec.imageName) in Ceph cluster \(cluster)"
        let monitors = request.monitors.map(\.description).joined(separator: ",")
        guard let code = errno(of: error) else {
            let detail = redacted((error as? TetherError)?.message ?? "\(error)", key: key)
            return TetherError(.cephFailed, "the kernel did not map \(image): \(detail)", hint: "see dmesg for libceph and rbd messages")
        }
        switch code {
        case ENOENT:
            return TetherError(.notFound, "\(image) does not exist (or its pool does not)", hint: "check the pool and image in the connection_info")
        case EACCES, EPERM:
            return TetherError(
                .cephDenied, "Ceph cluster \(cluster) refused client.\(request.user) mapping \(request.spec.imageName): wrong key or missing caps (\(text(code)))",
                hint: "check the key of client.\(request.user) (tether cluster show \(cluster)) and its caps: mon 'profile rbd', osd 'profile rbd pool=\(request.spec.pool)'")
        case ETIMEDOUT, EIO, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH:
            return TetherError(
                .cephUnreachable, "the kernel could not reach the monitors of Ceph cluster \(cluster) at \(monitors) to map \(request.spec.imageName) (\(text(code)))",
                hint: "check that the monitors are up and reachable from this node; with a msgr2 ms_mode a wrong key looks the same")
        case ENXIO:
            return TetherError(
                .unsupported, "the kernel's rbd driver cannot map \(image): the image uses features it does not support",
                hint: "attach it in network mode, or disable the features krbd lacks (rbd feature disable \(request.spec.imageName) journaling ...)")
        case EINVAL:
            return TetherError(
                .cephFailed, "the kernel rejected the map request for \(image) (\(text(code)))",
                hint: "see dmesg: monitor addresses must be IP addresses unless the kernel resolves names, and ms_mode needs kernel 5.11+")
        default:
            return TetherError(.cephFailed, "the kernel did not map \(image): \(text(code))", hint: "see dmesg for libceph and rbd messages")
        }
    }

    /// A refused write to `remove`.
    static func unmapFailed(_ error: any Error, device: KRBDSysfs.Device) -> TetherError {
        let code = errno(of: error)
        if code == EBUSY {
            return TetherError(
                .conflict, "\(device.devicePath) (\(device.spec.imageName)) is still open and cannot be unmapped",
                hint: "stop what uses it (a VM, a mount, a holder such as LVM), or detach with force")
        }
        let detail = code.map(text) ?? redacted((error as? TetherError)?.message ?? "\(error)", key: nil)
        return TetherError(.cephFailed, "the kernel did not unmap \(device.devicePath) (\(device.spec.imageName)): \(detail)", hint: "see dmesg for rbd messages")
    }
}
