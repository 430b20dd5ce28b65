import Foundation
import TetherCeph
import TetherCore
import TetherFakes

/// Registry files, keys and connection_info payloads as deployments and Cinder produce them.
enum CephFixtures {
    static let directory = "/etc/tether"
    static let cephDirectory = "/etc/ceph"

    /// Well-formed cephx keys (type 1, 16 secret bytes), as `ceph auth print-key` prints them.
    static let cinderKeyA = "AQAA8VNlAAAAABAAAAsWISw3Qk1YY255hI+apQ=="
    static let novaKeyA = "AQAB8VNlAAAAABAAJTA7RlFcZ3J9iJOeqbS/yg=="
    static let cinderKeyB = "AQAC8VNlAAAAABAASlVga3aBjJeirbjDztnk7w=="

    static let fsidA = "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"
    static let fsidB = "7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    static let secretUUIDA = "457eb676-33da-42ec-9a8c-9293d545c337"

    /// Three monitors, written three ways; a deployment tool's file with comments.
    static let clusterA = """
        # ceph-a: the production cluster
        name = "ceph-a"
        fsid = "\(fsidA)"
        mon_host = ["v2:192.0.2.21:3300", "v1:192.0.2.21:6789", "192.0.2.22:6789", "[v2:192.0.2.23:3300,v1:192.0.2.23:6789]"]
        default_user = "cinder"

        [user.cinder]
        key_file = "/etc/tether/keys/ceph-a.client.cinder.key"   # 0600, the base64 key only
        secret_uuid = "\(secretUUIDA)"

        [user.nova]
        key_file = "/etc/tether/keys/ceph-a.client.nova.key"

        """

    /// A lab cluster as LAB.md brings it up: one mon on 127.0.0.1, v2 on P and v1 on P+1, given as
    /// one `mon host` string; no key_file, so the default path.
    static let clusterB = """
        name = "ceph-b"
        fsid = "\(fsidB)"
        mon_host = "[v2:127.0.0.1:6800,v1:127.0.0.1:6801]"
        [user.cinder]
        """

    static func key(_ text: String) -> Secret { Secret(text) }

    /// A FakeHost holding the two registry files and their keys (0600).
    static func host(extra files: [String: String] = [:]) async throws -> FakeHost {
        let host = FakeHost()
        try await put(host, "\(directory)/clusters.d/ceph-a.toml", clusterA, mode: 0o644)
        try await put(host, "\(directory)/clusters.d/ceph-b.toml", clusterB, mode: 0o644)
        try await put(host, "\(directory)/keys/ceph-a.client.cinder.key", cinderKeyA + "\n", mode: 0o600)
        try await put(host, "\(directory)/keys/ceph-a.client.nova.key", novaKeyA + "\n", mode: 0o600)
        try await put(host, "\(directory)/keys/ceph-b.client.cinder.key", cinderKeyB, mode: 0o400)
        for (path, text) in files {
            try await put(host, path, text, mode: 0o644)
        }
        return host
    }

    static func put(_ host: FakeHost, _ path: String, _ text: String, mode: UInt32) async throws {
        try await host.writeFile(path, contents: Array(text.utf8), mode: mode)
    }

    static func registry() async throws -> CephRegistry {
        let host = try await host()
        return try await CephRegistry.load(directory: directory, host: host, inspector: FakeFileInspector(host))
    }

    /// Cinder's RBD driver (cinder/volume/drivers/rbd.py initialize_connection): ports as strings,
    /// the mons' v1 ports.
    static let cinderRBD: [String: JSONValue] = [
        "name": "volumes/volume-8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10",
        "hosts": ["192.0.2.21", "192.0.2.22", "192.0.2.23"], "ports": ["6789", "6789", "6789"],
        "cluster_name": "ceph-a", "auth_enabled": true, "auth_username": "cinder",
        "secret_type": "ceph", "secret_uuid": .string(secretUUIDA),
        "volume_id": "8e3b4a5c-2c1f-4c3e-9c1a-1f3c6a7d9b10", "discard": true,
        "qos_specs": nil, "access_mode": "rw", "encrypted": false,
    ]

    /// `cinderRBD` with keys replaced; `nil` removes a key.
    static func rbd(_ changes: [String: JSONValue?] = [:]) throws -> RBDConnectionData {
        var data = cinderRBD
        for (key, value) in changes {
            data[key] = value
        }
        return try RBDConnectionData(ConnectionInfo(driverVolumeType: "rbd", data: data))
    }
}

/// A `FileInspector` over a FakeHost's in-memory files.
struct FakeFileInspector: FileInspector {
    let host: FakeHost
    init(_ host: FakeHost) { self.host = host }

    func contentsOfDirectory(_ directory: String) async throws -> [String]? {
        let prefix = directory + "/"
        let names = host.filePaths.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.filter { !$0.contains("/") }
        return names.isEmpty ? nil : names
    }

    func permissions(of path: String) async throws -> UInt32? {
        host.file(path)?.mode
    }
}
