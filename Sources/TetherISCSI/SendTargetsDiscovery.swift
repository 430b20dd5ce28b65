import TetherCore

/// Finds every portal of a target from the one portal a connection_info names (iSCSI
/// SendTargets), when the node multipaths and Cinder sent only `target_portal`.
public struct SendTargetsDiscovery: Sendable {
    let discover: @Sendable (_ seed: ISCSIPath, _ initiator: String?, _ chap: CHAPCredentials?) async throws -> [ISCSIPath]

    public init(_ discover: @escaping @Sendable (_ seed: ISCSIPath, _ initiator: String?, _ chap: CHAPCredentials?) async throws -> [ISCSIPath]) {
        self.discover = discover
    }

    /// Discovery with libiscsi, in userspace: no node records, and CHAP passwords stay in memory.
    public static func libiscsi(timeouts: ISCSITimeouts = ISCSITimeouts()) -> SendTargetsDiscovery {
        SendTargetsDiscovery { seed, initiator, chap in
            guard let initiator, !initiator.isEmpty else {
                throw TetherError.invalidInput("this node has no iSCSI initiator name", hint: "set [iscsi] initiator in tether.toml or write /etc/iscsi/initiatorname.iscsi")
            }
            let targets = try await ISCSISession.discover(portal: seed.portal, initiator: initiator, chap: chap, timeouts: timeouts)
            return try paths(seed: seed, targets: targets.map { ($0.iqn, $0.portals) })
        }
    }

    /// The paths to the seed's target (or the one target there, when the seed names none).
    static func paths(seed: ISCSIPath, targets: [(iqn: String, portals: [Portal])]) throws -> [ISCSIPath] {
        let wanted = seed.iqn.isEmpty ? targets : targets.filter { $0.iqn == seed.iqn }
        guard wanted.count == 1, let target = wanted.first else {
            if wanted.isEmpty {
                throw TetherError(
                    .iscsiNotAuthorized, "discovery on \(seed.portal) does not list \(seed.iqn.isEmpty ? "any target" : seed.iqn) for this initiator",
                    hint: "export the volume to this node's initiator, and check target_iqn")
            }
            throw TetherError.invalidInput("discovery on \(seed.portal) found \(wanted.count) targets and connection_info names none", hint: "add target_iqn to connection_info")
        }
        let portals = target.portals.isEmpty ? [seed.portal] : target.portals
        return portals.map { ISCSIPath(portal: $0, iqn: target.iqn, lun: seed.lun) }
    }
}
