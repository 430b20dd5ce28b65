import Foundation
import TetherCeph
import TetherCore

/// What the secret sync does for one (cluster, user) with a key, decided from what libvirt has:
/// a pure function, so every case is tested without a libvirtd.
enum CephSecretDecision: Equatable {
    /// Tether's own secret at `uuid` with the fsid-based usage: defined or its value set, after
    /// Tether's stale secrets for this user (`removing`: an older usage name, an older UUID) go.
    case define(uuid: UUID, removing: [UUID])
    /// Another tool's secret serves this user: recorded, used, never undefined.
    case adopt(LibvirtSecretInfo, AdoptedSecretRecord.Reason, removing: [UUID])
    /// Nothing Tether may do: another tool's secret is in the way.
    case refuse(TetherError)

    static func == (left: Self, right: Self) -> Bool {
        switch (left, right) {
        case let (.define(a, b), .define(c, d)): a == c && b == d
        case let (.adopt(a, b, c), .adopt(d, e, f)): a == d && b == e && c == f
        case let (.refuse(a), .refuse(b)): a.code == b.code && a.message == b.message
        default: false
        }
    }

    /// Whether Tether gave this usage name: only such secrets are ever undefined.
    static func isTethers(_ usage: String) -> Bool { usage.hasPrefix("tether ") }

    /// - Parameters:
    ///   - existing: every ceph secret libvirt has.
    ///   - values: the values of the non-private secrets Tether did not define.
    ///   - adopted: this user's adoption, if one was recorded.
    static func decide(
        cluster: CephCluster, user: CephUser, key: [UInt8], existing: [LibvirtSecretInfo], values: [UUID: [UInt8]], adopted: AdoptedSecretRecord?
    ) -> CephSecretDecision {
        let wanted = cluster.secretUUID(for: user)
        let usage = cluster.secretUsage(for: user)
        let mine: Set<String> = [usage, cluster.legacySecretUsage(for: user)]
        // Tether's own secrets for this user elsewhere than the wanted UUID (secret_uuid changed).
        let stale = existing.filter { mine.contains($0.usage.name) && $0.uuid != wanted }.map(\.uuid)

        if let adopted, let uuid = UUID(uuidString: adopted.uuid), let secret = existing.first(where: { $0.uuid == uuid }) {
            if secret.isPrivate || values[uuid] == key {
                return .adopt(secret, adopted.reason, removing: stale)
            }
            return .refuse(mismatch(secret, cluster: cluster, user: user, wanted: wanted, adopted: true))
        }
        if let atWanted = existing.first(where: { $0.uuid == wanted }) {
            // Tether's own under the wanted UUID: defined again with the current usage if it
            // changed (libvirt never changes a UUID's usage), else just set.
            if isTethers(atWanted.usage.name) {
                return .define(uuid: wanted, removing: stale + (atWanted.usage.name == usage ? [] : [wanted]))
            }
            if atWanted.isPrivate {
                return .refuse(
                    TetherError(
                        .conflict,
                        "libvirt already has secret \(wanted.uuidString.lowercased()) (usage '\(atWanted.usage.name)'), the UUID Tether would use for \(user.entity) of cluster \(cluster.name), and it is private: libvirt does not show its value, so Tether cannot tell whether it holds this user's key",
                        hint: hint(cluster: cluster, user: user, wanted: wanted)))
            }
            guard values[wanted] == key else {
                return .refuse(mismatch(atWanted, cluster: cluster, user: user, wanted: wanted, adopted: false))
            }
            return .adopt(atWanted, .sameUUID, removing: stale)
        }
        let sameKey = existing.first { !isTethers($0.usage.name) && !$0.isPrivate && values[$0.uuid] == key }
        if let sameKey {
            return .adopt(sameKey, .sameKey, removing: stale)
        }
        return .define(uuid: wanted, removing: stale)
    }

    private static func mismatch(_ secret: LibvirtSecretInfo, cluster: CephCluster, user: CephUser, wanted: UUID, adopted: Bool) -> TetherError {
        let found = secret.uuid.uuidString.lowercased()
        let what = adopted ? "the secret Tether adopted for" : "a secret at the UUID Tether would use for"
        return TetherError(
            .conflict,
            "libvirt secret \(found) (usage '\(secret.usage.name)'), \(what) \(user.entity) of cluster \(cluster.name), holds another key than that user's; Tether's secret would be \(wanted.uuidString.lowercased())",
            hint: hint(cluster: cluster, user: user, wanted: wanted))
    }

    private static func hint(cluster: CephCluster, user: CephUser, wanted: UUID) -> String {
        let derived = CephCluster.derivedSecretUUID(fsid: cluster.fsid, user: user.name)
        let other = user.secretUUID != nil && derived != wanted ? "leave secret_uuid out of [user.\(user.name)] (Tether then uses \(derived.uuidString.lowercased())), or " : ""
        return "\(other)undefine that secret (virsh secret-undefine) or set it to this user's key, then run tether cluster sync"
    }
}
