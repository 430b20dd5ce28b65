import Foundation
import TetherCeph
import TetherCore
import TetherRBD
import TetherFakes

/// Two clusters that both have `volumes/volume-1`, registered as a deployment tool writes them.
enum KRBDFixtures {
    static let registryDirectory = "/etc/tether"
    static let fsidA = "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"
    static let fsidB = "7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    static let keyA = "AQAA8VNlAAAAABAAAAsWISw3Qk1YY255hI+apQ=="
    static let keyB = "AQAC8VNlAAAAABAASlVga3aBjJeirbjDztnk7w=="
    static let monitorA = "192.0.2.21:6789"
    static let monitorB = "198.51.100.7:6789"
    static let image = "volume-1"
    static let imageBytes: UInt64 = 1 << 30

    /// A FakeHost with both registry files, their keys, and a kernel serving both clusters.
    static func kernel() async throws -> FakeKRBD {
        let host = FakeHost()
        for (name, fsid, monitor, key) in [("ceph-a", fsidA, "192.0.2.21", keyA), ("ceph-b", fsidB, "198.51.100.7", keyB)] {
            let file = """
                name = "\(name)"
                fsid = "\(fsid)"
                mon_host = ["[v2:\(monitor):3300,v1:\(monitor):6789]"]
                [user.cinder]
                """
            try await host.writeFile("\(registryDirectory)/clusters.d/\(name).toml", contents: Array(file.utf8), mode: 0o644)
            try await host.writeFile("\(registryDirectory)/keys/\(name).client.cinder.key", contents: Array("\(key)\n".utf8), mode: 0o600)
        }
        let kernel = FakeKRBD(host: host)
        kernel.serve(monitor: monitorA, fsid: fsidA, user: "cinder", key: keyA, images: ["volumes/\(image)": imageBytes])
        kernel.serve(monitor: monitorB, fsid: fsidB, user: "cinder", key: keyB, images: ["volumes/\(image)": 2 * imageBytes])
        return kernel
    }

    static func registry(_ host: FakeHost) async throws -> CephRegistry {
        try await CephRegistry.load(directory: registryDirectory, host: host, inspector: FakeHostInspector(host: host))
    }

    static func connector(
        _ kernel: FakeKRBD, timeouts: KRBDTimeouts = KRBDTimeouts(connect: .seconds(5), device: .seconds(20), unmap: .seconds(5)),
        requireStableNames: Bool = true, messenger: KRBDMessengerMode = .legacy
    ) async throws -> KernelRBDConnector {
        let registry = try await registry(kernel.host)
        return KernelRBDConnector(
            host: kernel.host, registry: { registry }, timeouts: timeouts, messenger: messenger, requireStableNames: requireStableNames)
    }

    /// Cinder's rbd connection_info for `volumes/<image>` of `cluster`.
    static func request(
        cluster: String, volume: String, image: String = image, accessMode: AccessMode = .readWrite, attachment: String? = nil
    ) -> AttachRequest {
        let monitor = cluster == "ceph-a" ? "192.0.2.21" : "198.51.100.7"
        let info = ConnectionInfo(driverVolumeType: "rbd", data: [
            "name": .string("volumes/\(image)"), "hosts": [.string(monitor)], "ports": ["6789"], "cluster_name": .string(cluster),
            "auth_enabled": true, "auth_username": "cinder", "secret_type": "ceph", "volume_id": .string(volume), "discard": true,
            "access_mode": .string(accessMode.rawValue),
        ])
        return AttachRequest(
            attachmentID: attachment ?? "att-\(volume)", volumeID: volume, connectionInfo: info, mode: .kernel, accessMode: accessMode,
            connector: ConnectorProperties(initiator: "iqn.test:node"))
    }
}

/// A `FileInspector` over a FakeHost's in-memory files.
struct FakeHostInspector: FileInspector {
    let host: FakeHost

    func contentsOfDirectory(_ directory: String) async throws -> [String]? {
        let prefix = directory + "/"
        let names = host.filePaths.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.filter { !$0.contains("/") }
        return names.isEmpty ? nil : names
    }

    func permissions(of path: String) async throws -> UInt32? {
        host.file(path)?.mode
    }
}
