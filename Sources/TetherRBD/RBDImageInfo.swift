internal import CRBD
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// What an attach needs to know about an RBD image: size, features, who watches it and who holds
/// its exclusive lock.
public struct RBDImageInfo: Sendable, Hashable, Codable {
    public struct Watcher: Sendable, Hashable, Codable {
        public var address: String
        public var id: Int64
    }

    public var name: String
    public var sizeBytes: UInt64
    public var features: UInt64
    public var watchers: [Watcher]
    /// Clients holding the image's exclusive lock (empty when none, or the feature is off).
    public var lockOwners: [String]
    /// The lock's records (`rbd lock ls`): who holds it, with the entity name the owner list lacks.
    public var lockers: [RBDClient] = []

    /// Every other client using the image: the lock's holders first, then watchers not among them.
    /// Never this process's own connection (its open handle watches too).
    public var clients: [RBDClient] {
        var seen = Set(lockers.map(\.instance))
        var all = lockers
        for watcher in watchers where seen.insert(RBDClient.instance(watcher.address)).inserted {
            all.append(RBDClient(name: "client.\(watcher.id)", address: watcher.address))
        }
        return all
    }

    /// RBD_FEATURE_EXCLUSIVE_LOCK of librbd's features.h.
    public static let exclusiveLockFeature: UInt64 = 1 << 2

    public var hasExclusiveLock: Bool { features & Self.exclusiveLockFeature != 0 }

    /// Feature names as `rbd info` prints them.
    public var featureNames: [String] {
        let names: [(UInt64, String)] = [
            (1 << 0, "layering"), (1 << 1, "striping"), (1 << 2, "exclusive-lock"), (1 << 3, "object-map"),
            (1 << 4, "fast-diff"), (1 << 5, "deep-flatten"), (1 << 6, "journaling"), (1 << 7, "data-pool"),
            (1 << 8, "operations"), (1 << 9, "migrating"), (1 << 10, "non-primary"),
        ]
        return names.filter { features & $0.0 != 0 }.map(\.1)
    }

    /// - Parameter ownInstance: this connection's global id (`rados_get_instance_id`): the handle
    ///   that reads the image is one of its watchers, and never another client.
    static func read(_ image: rbd_image_t, cluster: String, name: String, ownInstance: UInt64) throws -> RBDImageInfo {
        var size: UInt64 = 0
        var features: UInt64 = 0
        var result = rbd_get_size(image, &size)
        guard result == 0 else { throw RADOSFailure.error(-result, "read the size of \(name)", cluster: cluster) }
        result = rbd_get_features(image, &features)
        guard result == 0 else { throw RADOSFailure.error(-result, "read the features of \(name)", cluster: cluster) }

        var watchers: [Watcher] = []
        var count = 16
        var list = [rbd_image_watcher_t](repeating: rbd_image_watcher_t(), count: count)
        result = rbd_watchers_list(image, &list, &count)
        if result == -ERANGE {
            list = [rbd_image_watcher_t](repeating: rbd_image_watcher_t(), count: count)
            result = rbd_watchers_list(image, &list, &count)
        }
        if result == 0 {
            watchers = list.prefix(count).filter { UInt64(bitPattern: $0.id) != ownInstance }
                .map { Watcher(address: $0.addr.map { String(cString: $0) } ?? "", id: $0.id) }
            rbd_watchers_list_cleanup(&list, count)
        }

        var owners: [String] = []
        if features & exclusiveLockFeature != 0 {
            var mode = RBD_LOCK_MODE_EXCLUSIVE
            var ownerCount = 8
            var names = [UnsafeMutablePointer<CChar>?](repeating: nil, count: ownerCount)
            result = rbd_lock_get_owners(image, &mode, &names, &ownerCount)
            if result == 0 {
                owners = names.prefix(ownerCount).compactMap { $0.map { String(cString: $0) } }
                rbd_lock_get_owners_cleanup(&names, ownerCount)
            }
        }
        let lockers = owners.isEmpty ? [] : try readLockers(image, cluster: cluster, name: name)
        return RBDImageInfo(name: name, sizeBytes: size, features: features, watchers: watchers, lockOwners: owners, lockers: lockers)
    }

    /// The lock records of `rbd_list_lockers`: three lists of NUL-terminated strings.
    static func readLockers(_ image: rbd_image_t, cluster: String, name: String) throws -> [RBDClient] {
        var (tagSize, clientsSize, cookiesSize, addressesSize) = (256, 1024, 1024, 1024)
        for _ in 0..<3 {
            var exclusive: Int32 = 0
            var tag = [CChar](repeating: 0, count: tagSize)
            var clients = [CChar](repeating: 0, count: clientsSize)
            var cookies = [CChar](repeating: 0, count: cookiesSize)
            var addresses = [CChar](repeating: 0, count: addressesSize)
            let count = rbd_list_lockers(
                image, &exclusive, &tag, &tagSize, &clients, &clientsSize, &cookies, &cookiesSize, &addresses, &addressesSize)
            if count == -Int(ERANGE) { continue }  // librbd set the sizes it needs
            guard count >= 0 else { throw RADOSFailure.error(Int32(clamping: -count), "list the lockers of \(name)", cluster: cluster) }
            return zip(Self.strings(clients, count: count), Self.strings(addresses, count: count)).map { RBDClient(name: $0, address: $1) }
        }
        throw RADOSFailure.error(ERANGE, "list the lockers of \(name) (they kept changing)", cluster: cluster)
    }

    static func strings(_ buffer: [CChar], count: Int) -> [String] {
        buffer.split(separator: 0, omittingEmptySubsequences: false).prefix(count).map {
            String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
