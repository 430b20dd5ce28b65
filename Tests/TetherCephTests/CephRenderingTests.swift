import Foundation
import TetherCeph
import TetherCore
import TetherFakes
import Testing

@Suite struct CephRenderingTests {
    @Test func confNamesFsidMonitorsAndEachUsersKeyring() async throws {
        let registry = try await CephFixtures.registry()
        let a = try #require(registry.cluster(named: "ceph-a"))
        let set = CephFileSet(a, registry: registry, cephDirectory: "/etc/ceph")
        #expect(set.conf.path == "/etc/ceph/ceph-a.conf")
        #expect(set.conf.mode == 0o644)
        #expect(set.conf.contents == .text("""
            # written by tether; do not edit
            # Ceph cluster ceph-a; its registry file is clusters.d/ceph-a.toml
            [global]
            \tfsid = 0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c
            \tmon host = [v2:192.0.2.21:3300,v1:192.0.2.21:6789],v1:192.0.2.22:6789,[v2:192.0.2.23:3300,v1:192.0.2.23:6789]

            [client.cinder]
            \tkeyring = /etc/ceph/ceph-a.client.cinder.keyring

            [client.nova]
            \tkeyring = /etc/ceph/ceph-a.client.nova.keyring

            """))
        #expect(set.keyrings.map(\.path) == ["/etc/ceph/ceph-a.client.cinder.keyring", "/etc/ceph/ceph-a.client.nova.keyring"])
        #expect(set.keyrings.allSatisfy { $0.mode == 0o600 && $0.kind == .keyring })
        #expect(set.files.count == 3)
    }

    @Test func keyringIsExactlyOneSectionAndOneKey() throws {
        let user = try CephUser(name: "cinder", keyFile: "/k")
        let keyring = CephFileSet.renderKeyring(user: user, key: Secret(CephFixtures.cinderKeyA))
        #expect(keyring == Secret("[client.cinder]\n\tkey = \(CephFixtures.cinderKeyA)\n"))
        // It stays a Secret all the way: printing a keyring file shows nothing.
        let file = CephFile(path: "/etc/ceph/x.client.cinder.keyring", kind: .keyring, mode: 0o600, contents: .secret(keyring))
        #expect(!"\(file)".contains(CephFixtures.cinderKeyA))
        #expect(!String(reflecting: file).contains(CephFixtures.cinderKeyA))
    }

    @Test func keyringIsWrittenWithItsKeyAndMode() async throws {
        let registry = try await CephFixtures.registry()
        let b = try #require(registry.cluster(named: "ceph-b"))
        let host = FakeHost()
        for file in CephFileSet(b, registry: registry, cephDirectory: "/etc/ceph").files {
            try await file.write(to: host)
        }
        #expect(host.file("/etc/ceph/ceph-b.client.cinder.keyring")?.mode == 0o600)
        #expect(try await host.read("/etc/ceph/ceph-b.client.cinder.keyring") == "[client.cinder]\n\tkey = \(CephFixtures.cinderKeyB)\n")
        #expect(try await host.read("/etc/ceph/ceph-b.conf").contains("\tmon host = [v2:127.0.0.1:6800,v1:127.0.0.1:6801]\n"))
    }

    @Test func userWithoutAKeyHasNoKeyring() async throws {
        let host = try await CephFixtures.host()
        try await host.removeFile("/etc/tether/keys/ceph-a.client.nova.key")
        let registry = try await CephRegistry.load(directory: "/etc/tether", host: host, inspector: FakeFileInspector(host))
        let set = CephFileSet(try #require(registry.cluster(named: "ceph-a")), registry: registry, cephDirectory: "/etc/ceph")
        #expect(set.keyrings.map(\.path) == ["/etc/ceph/ceph-a.client.cinder.keyring"])
        // The conf is the same whatever keys could be read.
        guard case .text(let conf) = set.conf.contents else { Issue.record("conf is text"); return }
        #expect(conf.contains("[client.nova]\n\tkeyring = /etc/ceph/ceph-a.client.nova.keyring"))
    }
}

@Suite struct CephSecretUUIDTests {
    let fsid = UUID(uuidString: CephFixtures.fsidA)!

    @Test func derivedUUIDIsStableAndVersion8() {
        let uuid = CephCluster.derivedSecretUUID(fsid: fsid, user: "cinder")
        #expect(uuid == CephCluster.derivedSecretUUID(fsid: fsid, user: "cinder"))
        // Pinned: nodes that derive it must agree across Tether versions.
        #expect(uuid.uuidString.lowercased() == Self.pinned)
        let text = uuid.uuidString.lowercased()
        #expect(text.count == 36)
        #expect(Array(text)[14] == "8", "version nibble")
        #expect("89ab".contains(Array(text)[19]), "RFC 9562 variant")
    }

    /// SHA-256 of "tether ceph secret\0<fsid>\0client.cinder", first 16 bytes, version 8 and
    /// variant bits set; computed outside Swift (Python's hashlib and uuid).
    static let pinned = "dccce9f2-d477-83a0-bb84-c8ff1fc323ca"

    @Test func derivedUUIDDependsOnFsidAndUserOnly() {
        let uuids = Set([
            CephCluster.derivedSecretUUID(fsid: fsid, user: "cinder"),
            CephCluster.derivedSecretUUID(fsid: fsid, user: "nova"),
            CephCluster.derivedSecretUUID(fsid: UUID(uuidString: CephFixtures.fsidB)!, user: "cinder"),
        ])
        #expect(uuids.count == 3)
    }

    @Test func givenUUIDWinsAndUsageDependsOnFsidAndUserOnly() async throws {
        let registry = try await CephFixtures.registry()
        let a = try #require(registry.cluster(named: "ceph-a"))
        let cinder = try #require(a.user(named: "cinder"))
        let nova = try #require(a.user(named: "nova"))
        #expect(a.secretUUID(for: cinder) == UUID(uuidString: CephFixtures.secretUUIDA))
        #expect(a.secretUUID(for: nova) == CephCluster.derivedSecretUUID(fsid: a.fsid, user: "nova"))
        #expect(a.secretUsage(for: cinder) == "tether ceph \(CephFixtures.fsidA) client.cinder")
        #expect(a.legacySecretUsage(for: cinder) == "tether ceph-a client.cinder")
        #expect(a.secretDescription(for: cinder).contains("ceph-a"))
        // The same cluster registered under another name on another node: the same usage.
        let elsewhere = try CephCluster(name: "east", fsid: a.fsid, monitors: a.monitors, users: a.users)
        #expect(elsewhere.secretUsage(for: cinder) == a.secretUsage(for: cinder))
        let usages = registry.clusters.flatMap { cluster in cluster.users.map { cluster.secretUsage(for: $0) } }
        #expect(Set(usages).count == usages.count)
    }
}

@Suite struct CephFileWriteTests {
    @Test func writeIfChangedSkipsIdenticalFiles() async throws {
        let host = FakeHost()
        let file = CephFile(path: "/etc/ceph/x.conf", kind: .conf, mode: 0o644, contents: .text("[global]\n"))
        #expect(try await file.writeIfChanged(to: host))
        #expect(try await !file.writeIfChanged(to: host))
        try await host.writeFile("/etc/ceph/x.conf", contents: Array("stale\n".utf8), mode: 0o644)
        #expect(try await file.writeIfChanged(to: host))
        #expect(try await host.read("/etc/ceph/x.conf") == "[global]\n")
    }
}
