internal import CRBD
import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// Fencing: taking a client instance's access to the cluster away (the OSD map's blocklist), and
/// breaking the exclusive lock such a client held.
extension RADOSConnection {
    /// This connection's client instances as Ceph names them ("127.0.0.1:0/3305813894"), so the
    /// agent never fences itself. The corresponding C function is `rados_getaddrs`.
    public func ownAddresses() async throws -> [String] {
        try await perform {
            var text: UnsafeMutablePointer<CChar>?
            let result = rados_getaddrs(self.cluster, &text)
            guard result == 0, let text else { throw RADOSFailure.error(-result, "read this client's addresses", cluster: self.clusterName) }
            defer { free(text) }
            // A list "[v2:…,v1:…]" or one address.
            return String(cString: text).trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",").map(String.init)
        }
    }

    /// The blocklist of the cluster's current OSD map: client instance → until (Ceph's UTC time).
    /// Read from `osd dump`, which `profile rbd` may read (`osd blocklist ls` prints two lists).
    public func blocklist() async throws -> [String: String] {
        let output = try await monitorCommand(#"{"prefix": "osd dump", "format": "json"}"#)
        struct Dump: Decodable { var blocklist: [String: String]? }
        do {
            return try JSONDecoder().decode(Dump.self, from: Data(output.utf8)).blocklist ?? [:]
        } catch {
            throw TetherError(.cephFailed, "cannot read the blocklist of Ceph cluster \(clusterName): osd dump answered no JSON object with a blocklist (\(error))")
        }
    }

    /// Blocklists one client instance (IP:port/nonce) for `expire` seconds, 0 for the cluster's
    /// default (mon_osd_blocklist_default_expire, 1 h); again for a blocklisted one sets its expiry.
    /// librados waits for the OSD map that holds the entry before it answers.
    /// The corresponding C function is `rados_blocklist_add`.
    /// - Throws: `ceph.failed` naming the caps when the monitors refuse (`profile rbd` allows
    ///   only IP:port/nonce forms).
    public func blocklistAdd(_ address: String, expireSeconds: UInt32) async throws {
        try await perform {
            var bytes = Array(address.utf8CString)
            let result = bytes.withUnsafeMutableBufferPointer { rados_blocklist_add(self.cluster, $0.baseAddress, expireSeconds) }
            guard result == 0 else {
                throw RADOSFailure.error(-result, "blocklist \(address) (osd blocklist add; the user needs mon 'profile rbd' or the osd blocklist command)", cluster: self.clusterName)
            }
        }
    }

    /// Breaks the exclusive lock of `pool/image` held by `owner` (an address from the owner list).
    /// librbd blocklists the owner as it breaks the lock (rbd_blocklist_on_break_lock, on by
    /// default), so the old owner cannot write after it. The corresponding C function is
    /// `rbd_lock_break`.
    public func breakLock(pool: String, image: String, owner: String) async throws {
        try await perform {
            try self.withImage(pool: pool, image: image, readOnly: false) { handle in
                let result = rbd_lock_break(handle, RBD_LOCK_MODE_EXCLUSIVE, owner)
                // ENOENT: the owner let go meanwhile; nothing is left to break.
                guard result == 0 || result == -ENOENT else {
                    throw RADOSFailure.error(-result, "break the exclusive lock of \(pool)/\(image) held by \(owner)", cluster: self.clusterName)
                }
            }
        }
    }
}
