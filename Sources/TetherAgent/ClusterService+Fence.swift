import Foundation
import Logging
import TetherAPI
import TetherCeph
import TetherCore
import TetherRBD

extension ClusterService {
    /// Blocklists one client instance of `name` (Ceph's `osd blocklist add`), so it can no longer
    /// read or write: what makes a forced attach of an image it used safe. Again for a fenced
    /// address sets its expiry again and answers `already_fenced`.
    /// - Parameters:
    ///   - address: the request's address as validated, without a messenger prefix.
    ///   - peer: who asked (the API peer's credentials), logged with every fencing.
    /// - Throws: `not_found` for an unknown cluster or user; `invalid_input` for this agent's own
    ///   address; Ceph's refusal (`ceph.failed`) when the user's caps do not allow it.
    func fence(_ name: String, _ request: FenceRequest, address: String, peer: String) async throws -> FenceResponse {
        let registry = current
        guard let cluster = registry.cluster(named: name) else {
            throw TetherError(.notFound, "no Ceph cluster \(name) is registered (known: \(registry.names.joined(separator: ", ")))", hint: "tether cluster list shows them")
        }
        guard let user = request.user.map({ cluster.user(named: $0) }) ?? cluster.defaultUser else {
            throw TetherError(
                .notFound, "user: cluster \(name) has no user \(request.user ?? "(default)") (users: \(cluster.users.map(\.name).joined(separator: ", ")))",
                hint: "name one of the cluster's users; it needs mon 'profile rbd' (or the osd blocklist command)")
        }
        let key = try registry.requireKey(for: user, in: cluster)
        let connection = try await connections.connection(cluster: cluster, user: user, key: key)
        let own = try await connection.ownAddresses().map(RBDClient.instance)
        guard !own.contains(address) else {
            throw TetherError.invalidField(
                "address", "\(address) is this agent's own connection to cluster \(name)", hint: "fence the other client: tether attach's refusal names it")
        }
        let wasFenced = try await connection.blocklist().keys.contains { RBDClient.instance($0) == address }
        let metadata: Logger.Metadata = [
            "cluster": "\(name)", "address": "\(address)", "user": "\(user.name)", "requested_by": "\(peer)",
            "expire_seconds": "\(request.expireSeconds.map(String.init) ?? "default")",
        ]
        logger.notice("fencing a Ceph client (osd blocklist add)", metadata: metadata)
        do {
            // validate() bounded it to FenceRequest.expireRange, which fits UInt32.
            try await connection.blocklistAdd(address, expireSeconds: UInt32(request.expireSeconds ?? 0))
        } catch {
            logger.error("fencing failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            throw error
        }
        let after = try await connection.blocklist()
        let until = after.first { RBDClient.instance($0.key) == address }?.value
        logger.notice("fenced a Ceph client", metadata: metadata.merging(["until": "\(until ?? "-")", "already_fenced": "\(wasFenced)"]) { $1 })
        return FenceResponse(cluster: name, user: user.name, address: address, until: until, alreadyFenced: wasFenced)
    }
}
