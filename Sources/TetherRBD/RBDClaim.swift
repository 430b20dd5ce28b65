import Logging
import TetherCore

/// The check before a read-write attach of an RBD image: no other client may be using it.
///
/// "Another client" is any client instance that holds the image's exclusive lock or watches it
/// (librbd and krbd watch every image they have open read-write; a read-only open does not), except
/// this agent's own connection and, when healing a krbd mapping, the node's own mapping from before
/// a reboot. A repeated attach of an attached volume never gets here: the journal answers it.
///
/// ceph-csi's node plugin refuses a single-writer image with watchers; os-brick checks nothing and
/// leaves it to the exclusive lock, which librbd hands over to any client that asks — so two
/// writers would take turns. Tether refuses and names the clients, and takes over only when told:
/// `force` once each of them is fenced (blocklisted: it can no longer write), or `force` with
/// `breakLock`, which breaks the lock (librbd blocklists the owner as it does).
public struct RBDClaim: Sendable {
    public var force: Bool
    public var breakLock: Bool
    /// Who asked, for the log: the API peer's credentials ("uid=0 gid=0 pid=4242").
    public var requestedBy: String

    public init(force: Bool, breakLock: Bool, requestedBy: String) {
        self.force = force
        self.breakLock = breakLock
        self.requestedBy = requestedBy
    }

    /// What the check found and did.
    public struct Outcome: Sendable {
        public var image: RBDImageInfo
        /// Other clients that were fenced already, or whose lock was broken, and attached over.
        public var takenOver: [RBDClient]
    }

    /// Inspects `pool/image`, refuses when another client uses it, and takes over when allowed.
    /// - Parameters:
    ///   - ignoring: client ids or addresses that are this node's own (`KernelRBDConnector.sameClient`).
    /// - Throws: `conflict` naming each other client, and what the operator can do.
    public func check(
        _ connection: RADOSConnection, pool: String, image: String, ignoring: [String] = [], logger: Logger, metadata: Logger.Metadata
    ) async throws -> Outcome {
        let info = try await connection.inspect(pool: pool, image: image)
        let others = info.clients.filter { client in !ignoring.contains { Self.same(client, $0) } }
        guard !others.isEmpty else { return Outcome(image: info, takenOver: []) }
        let place = "\(pool)/\(image) in cluster \(connection.clusterName)"
        let fence = others.map { "tether fence --cluster \(connection.clusterName) \($0.instance)" }.joined(separator: "; ")
        guard force else {
            throw TetherError(
                .conflict, "\(place) is in use by another client: \(Self.describe(others, info))",
                hint: "stop it there (detach on its node); if that node is dead or cut off, fence it (\(fence)) and attach again with --force, "
                    + "or attach with --force --break-lock to break its lock knowingly")
        }
        var metadata = metadata
        metadata["cluster"] = "\(connection.clusterName)"
        metadata["image"] = "\(pool)/\(image)"
        metadata["requested_by"] = "\(requestedBy)"
        metadata["clients"] = "\(others.map(\.description).joined(separator: ", "))"
        if breakLock {
            let owners = info.lockOwners.filter { owner in !ignoring.contains { Self.same(RBDClient(name: "", address: owner), $0) } }
            for owner in owners {
                logger.warning("breaking the exclusive lock of another client (--break-lock)", metadata: metadata.merging(["owner": "\(owner)"]) { $1 })
                try await connection.breakLock(pool: pool, image: image, owner: owner)
            }
            logger.warning("attaching over other clients (--break-lock)", metadata: metadata)
            return Outcome(image: try await connection.inspect(pool: pool, image: image), takenOver: others)
        }
        let blocklist = Set(try await connection.blocklist().keys.map(RBDClient.instance))
        let unfenced = others.filter { !blocklist.contains($0.instance) }
        guard unfenced.isEmpty else {
            throw TetherError(
                .conflict, "--force: \(place) is still used by a client that is not fenced: \(Self.describe(unfenced, info))",
                hint: "fence it first (\(unfenced.map { "tether fence --cluster \(connection.clusterName) \($0.instance)" }.joined(separator: "; "))), "
                    + "then attach with --force again; or attach with --force --break-lock to break its lock knowingly")
        }
        logger.notice("attaching over fenced clients (--force)", metadata: metadata)
        return Outcome(image: info, takenOver: others)
    }

    /// "client.4115 at 127.0.0.1:0/2986647972 holds its exclusive lock, client.4117 at … watches it".
    static func describe(_ clients: [RBDClient], _ info: RBDImageInfo) -> String {
        let owners = Set((info.lockers.map(\.instance)) + info.lockOwners.map(RBDClient.instance))
        return clients.map { "\($0) \(owners.contains($0.instance) ? "holds its exclusive lock" : "has it open (watches it)")" }.joined(separator: ", ")
    }

    static func same(_ client: RBDClient, _ mine: String) -> Bool {
        KernelRBDConnector.sameClient(client.address, mine) || KernelRBDConnector.sameClient(client.name, mine)
    }
}
