internal import CRBD
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// The bare-librbd floor: what Tether's network RBD attach asks of Ceph, called straight on
/// librados/librbd in this process — no HTTP, journal, lock, queue hop or files.
///
/// It mirrors `RADOSConnection.connect` (the same options: explicit monitors and key, cephx,
/// timeouts, no logs; then the fsid) and `RADOSConnection.inspect` + `RBDImageInfo.read`, which
/// `RBDClaim.check` runs for a read-write attach: open the pool and the image read-write, size,
/// features, watchers, the exclusive lock's owners (and the lockers when there are owners), close.
/// The bench imports CRBD besides TetherRBD on purpose: a floor through Tether's own wrapper
/// would carry Tether's costs. Not Sendable: one thread uses it at a time.
final class RBDFloor {
    private let cluster: rados_t

    init(monitors: String, user: String, key: Secret, connectTimeoutSeconds: Int) throws {
        var handle: rados_t?
        guard rados_create(&handle, user) == 0, let handle else { throw TetherError(.internalError, "rados_create failed") }
        let settings: [(String, String)] = [
            ("mon_host", monitors), ("client_mount_timeout", String(connectTimeoutSeconds)),
            ("rados_mon_op_timeout", "30"), ("rados_osd_op_timeout", "30"),
            ("log_to_stderr", "false"), ("err_to_stderr", "false"), ("log_file", ""), ("auth_supported", "cephx"),
        ]
        for (option, value) in settings {
            guard rados_conf_set(handle, option, value) == 0 else {
                rados_shutdown(handle)
                throw TetherError(.internalError, "rados_conf_set \(option) failed")
            }
        }
        guard key.reveal({ rados_conf_set(handle, "key", $0) }) == 0 else {
            rados_shutdown(handle)
            throw TetherError(.internalError, "rados_conf_set key failed")
        }
        let connected = rados_connect(handle)
        guard connected == 0 else {
            rados_shutdown(handle)
            throw TetherError(.internalError, "rados_connect failed: \(String(cString: strerror(-connected)))")
        }
        var fsid = [CChar](repeating: 0, count: 64)
        _ = rados_cluster_fsid(handle, &fsid, fsid.count)
        cluster = handle
    }

    deinit {
        rados_shutdown(cluster)
    }

    /// The checks of one read-write attach; answers the image's size.
    @discardableResult
    func inspect(pool: String, image: String) throws -> UInt64 {
        var io: rados_ioctx_t?
        var result = rados_ioctx_create(cluster, pool, &io)
        guard result == 0, let io else { throw TetherError(.internalError, "rados_ioctx_create \(pool): \(result)") }
        defer { rados_ioctx_destroy(io) }
        var handle: rbd_image_t?
        result = rbd_open(io, image, &handle, nil)
        guard result == 0, let handle else { throw TetherError(.internalError, "rbd_open \(pool)/\(image): \(result)") }
        defer { rbd_close(handle) }
        _ = rados_get_instance_id(cluster)
        var size: UInt64 = 0
        var features: UInt64 = 0
        guard rbd_get_size(handle, &size) == 0, rbd_get_features(handle, &features) == 0 else {
            throw TetherError(.internalError, "rbd_get_size/features \(pool)/\(image)")
        }
        var count = 16
        var watchers = [rbd_image_watcher_t](repeating: rbd_image_watcher_t(), count: count)
        result = rbd_watchers_list(handle, &watchers, &count)
        if result == -ERANGE {
            watchers = [rbd_image_watcher_t](repeating: rbd_image_watcher_t(), count: count)
            result = rbd_watchers_list(handle, &watchers, &count)
        }
        if result == 0 { rbd_watchers_list_cleanup(&watchers, count) }
        if features & (1 << 2) != 0 {
            var mode = RBD_LOCK_MODE_EXCLUSIVE
            var ownerCount = 8
            var owners = [UnsafeMutablePointer<CChar>?](repeating: nil, count: ownerCount)
            if rbd_lock_get_owners(handle, &mode, &owners, &ownerCount) == 0 {
                if ownerCount > 0 { try listLockers(handle) }
                rbd_lock_get_owners_cleanup(&owners, ownerCount)
            }
        }
        return size
    }

    private func listLockers(_ handle: rbd_image_t) throws {
        var (tagSize, clientsSize, cookiesSize, addressesSize) = (256, 1024, 1024, 1024)
        var exclusive: Int32 = 0
        var tag = [CChar](repeating: 0, count: tagSize)
        var clients = [CChar](repeating: 0, count: clientsSize)
        var cookies = [CChar](repeating: 0, count: cookiesSize)
        var addresses = [CChar](repeating: 0, count: addressesSize)
        let count = rbd_list_lockers(handle, &exclusive, &tag, &tagSize, &clients, &clientsSize, &cookies, &cookiesSize, &addresses, &addressesSize)
        guard count >= 0 else { throw TetherError(.internalError, "rbd_list_lockers: \(count)") }
    }
}
