import TetherCore
@testable import TetherISCSI
import TetherMultipath

/// Requests and connectors for the kernel connector's tests.
enum KernelFixtures {
    static let iqn = "iqn.2003-01.org.linux-iscsi.storage:vol1"
    static let portalA = "192.0.2.10:3260"
    static let portalB = "198.51.100.10:3260"
    static let wwid = "naa.6001405f2a1b3c4d5e6f708192a3b4c5"
    static let otherWWID = "naa.6001405aaaaaaaaaaaaaaaaaaaaaaaaa"
    static let size: UInt64 = 1 << 30

    /// Short deadlines: the tests that wait for a deadline wait this long, not the defaults.
    static var configuration: KernelISCSIConfiguration {
        KernelISCSIConfiguration(
            root: "/", nodeDirectories: ["/etc/iscsi/nodes"],
            timeouts: KernelISCSITimeouts(
                command: .seconds(5), login: .seconds(5), session: .seconds(2), device: .milliseconds(1500), writable: .milliseconds(800),
                stableName: .milliseconds(200), flush: .seconds(5), removal: .seconds(2)),
            multipathTimeouts: Multipath.Timeouts(command: .seconds(5), mapAssembly: .seconds(2), flush: .seconds(5), flushAttempts: 2, retryDelay: .milliseconds(10)))
    }

    static func connector(_ node: SimulatedNode, discovery: SendTargetsDiscovery? = nil) -> KernelISCSIConnector {
        KernelISCSIConnector(
            host: node.fake, configuration: configuration,
            discovery: discovery ?? SendTargetsDiscovery { _, _, _ in throw TetherError(.internalError, "no discovery in this test") })
    }

    /// A node serving LUN `lun` of the one target on each of `portals`.
    static func node(portals: [String] = [portalA], lun: Int = 1, wwid: String = wwid) -> SimulatedNode {
        let node = SimulatedNode()
        for portal in portals {
            node.serve(portal, iqn, lun: lun, .init(wwid: wwid, sizeBytes: size))
        }
        return node
    }

    static func request(
        portals: [String] = [portalA], lun: Int = 1, volume: String = "vol-1", multipath: Bool = false, enforce: Bool = false,
        extra: [String: JSONValue] = [:], accessMode: AccessMode = .readWrite
    ) -> AttachRequest {
        var data: [String: JSONValue] = [
            "target_portals": .array(portals.map { .string($0) }),
            "target_iqns": .array(portals.map { _ in .string(iqn) }),
            "target_luns": .array(portals.map { _ in .int(Int64(lun)) }),
            "volume_id": .string(volume),
        ]
        for (key, value) in extra { data[key] = value }
        return AttachRequest(
            attachmentID: "att-\(volume)", volumeID: volume, connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: data), mode: .kernel,
            accessMode: accessMode, connector: ConnectorProperties(initiator: "iqn.1993-08.org.debian:01:node1", multipath: multipath, enforceMultipath: enforce))
    }

    static func chap(user: String = "chapuser", password: String, mutualUser: String? = nil, mutualPassword: String? = nil) -> [String: JSONValue] {
        var data: [String: JSONValue] = ["auth_method": "CHAP", "auth_username": .string(user), "auth_password": .string(password)]
        if let mutualUser, let mutualPassword {
            data["target_auth_username"] = .string(mutualUser)
            data["target_auth_password"] = .string(mutualPassword)
        }
        return data
    }
}
