import Foundation
import TetherAPI
import TetherCeph
import TetherCore

/// `migrate begin` and `restore begin`: the domain XML comes from another node (or a save image
/// made there), so its RBD disks name that node's secret UUIDs and conf paths. Each is matched to
/// this node's cluster by its monitors (or, with none in the XML, by a secret UUID this node also
/// has) and to the disk's user, and rewritten to this node's secret and conf. A disk whose cluster
/// or user this node does not have refuses the whole migration, before libvirt starts it. iSCSI
/// disks with CHAP are matched to this node's attachment of their target (HookService+ISCSI).
extension HookService {
    struct ClusterMatch {
        var cluster: CephCluster
        var user: CephUser
    }

    func filter(_ domain: String, action: QemuHookAction, _ xml: DomainXML) async throws -> QemuHookResponse {
        let registry = await clusters.current
        var actions: [String] = []
        var refusals: [String] = []
        let (_, changed) = xml.rewritingRBD { disk in
            switch Self.resolve(disk, in: registry) {
            case .failure(let problem):
                refusals.append("\(disk.target) (rbd \(disk.name)): \(problem.message)")
                return nil
            case .success(let match):
                let uuid = match.cluster.secretUUID(for: match.user).uuidString.lowercased()
                let conf = disk.configFile.map { _ in CephFileSet.confPath(cluster: match.cluster.name, cephDirectory: cephDirectory) }
                actions.append("\(disk.target) (rbd \(disk.name)): cluster \(match.cluster.name) user \(match.user.name), secret \(uuid)")
                return (uuid, conf)
            }
        }
        // The journal is read only when an iSCSI CHAP disk needs it.
        let hasISCSI = xml.disks.contains { if case .iscsi = $0 { true } else { false } }
        let secrets = hasISCSI ? try await iscsiSecrets() : []
        var iscsiRefusals: [TetherError] = []
        let (final, iscsiChanged) = xml.rewritingISCSI { disk in
            switch Self.resolve(disk, among: secrets) {
            case .failure(let problem):
                iscsiRefusals.append(problem)
                return nil
            case .success(let found):
                let unchanged = found.secret == disk.secret && found.username == disk.user
                actions.append(
                    "\(disk.target) (iscsi \(disk.name)): volume \(found.match.volumeID)'s secret \(Self.describe(found.secret)), user \(found.username)\(unchanged ? "; unchanged" : "")")
                return (found.secret, found.username)
            }
        }
        // Every disk this node cannot serve is named in the one line, RBD and iSCSI alike.
        var hints: [String] = []
        if !refusals.isEmpty { hints.append("register the cluster and user on this node (tether cluster add) before moving the domain here") }
        hints += iscsiRefusals.compactMap(\.hint).reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        guard refusals.isEmpty, iscsiRefusals.isEmpty else {
            throw refusal(
                domain, "\(action.rawValue) refused: " + (refusals + iscsiRefusals.map(\.message)).joined(separator: "; "), hint: hints.joined(separator: "; "),
                code: iscsiRefusals.contains { $0.code == .invalidInput } ? .invalidInput : refusals.isEmpty ? iscsiRefusals[0].code : .notFound)
        }
        for action in actions { _ = log(domain, action) }
        if actions.isEmpty { actions.append(log(domain, "no RBD or iSCSI CHAP disk; XML unchanged")) }
        return QemuHookResponse(xml: changed || iscsiChanged ? final : nil, actions: actions)
    }

    static func describe(_ secret: DomainDisk.SecretReference) -> String {
        switch secret {
        case .uuid(let uuid): "uuid \(uuid)"
        case .usage(let usage): "usage \(usage)"
        }
    }

    /// This node's cluster and user for an RBD disk of a domain XML, or why there is none.
    static func resolve(_ disk: DomainDisk.RBDDisk, in registry: CephRegistry) -> Result<ClusterMatch, TetherError> {
        let hosts = Set(disk.hosts.map { Portal(host: $0.host.lowercased(), port: $0.port) })
        var candidates: [CephCluster]
        if !hosts.isEmpty {
            candidates = registry.clusters.filter { cluster in
                !hosts.isDisjoint(with: cluster.portals.map { Portal(host: $0.host.lowercased(), port: $0.port) })
            }
        } else if case .uuid(let uuid) = disk.secret {
            candidates = registry.clusters.filter { cluster in cluster.users.contains { cluster.secretUUID(for: $0).uuidString.lowercased() == uuid } }
        } else {
            candidates = []
        }
        let monitors = disk.hosts.isEmpty ? "no monitors in the XML" : "monitors \(disk.hosts.map(\.description).joined(separator: ","))"
        guard let cluster = candidates.first else {
            let known = registry.names.isEmpty ? "none registered" : "known: \(registry.names.joined(separator: ", "))"
            // The source's conf path usually names the cluster as the source node knows it.
            let conf = disk.configFile.map { "; the XML's conf is \($0)" } ?? ""
            return .failure(TetherError(.notFound, "no Ceph cluster on this node has \(monitors) (\(known))\(conf)"))
        }
        guard candidates.count == 1 else {
            return .failure(TetherError(.conflict, "\(monitors) match several clusters here (\(candidates.map(\.name).joined(separator: ", ")))"))
        }
        let userName = disk.user ?? cluster.defaultUser?.name
        guard let userName, let user = cluster.user(named: userName) else {
            return .failure(
                TetherError(
                    .notFound,
                    "cluster \(cluster.name) (fsid \(cluster.fsid.uuidString.lowercased())) has no user \(disk.user ?? "(none named)") on this node (users: \(cluster.users.map(\.name).joined(separator: ", ")))"))
        }
        return .success(ClusterMatch(cluster: cluster, user: user))
    }
}
