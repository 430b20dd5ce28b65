import Foundation
import TetherCeph
import TetherCore
import TetherFakes
import Testing

@Suite struct CephRegistryTests {
    let directory = CephFixtures.directory

    @Test func loadsEveryClusterAndItsKeys() async throws {
        let registry = try await CephFixtures.registry()
        #expect(registry.problems.isEmpty, "\(registry.problems)")
        #expect(registry.names == ["ceph-a", "ceph-b"])
        let a = try #require(registry.cluster(named: "ceph-a"))
        #expect(registry.key(for: a.user(named: "cinder")!, in: a) == Secret(CephFixtures.cinderKeyA))
        #expect(registry.key(for: a.user(named: "nova")!, in: a) == Secret(CephFixtures.novaKeyA))
        let b = try #require(registry.cluster(named: "ceph-b"))
        #expect(try registry.requireKey(for: b.users[0], in: b) == Secret(CephFixtures.cinderKeyB))
        // Keys never print, whatever holds them.
        let plan = CephSyncPlan(registry: registry, cephDirectory: "/etc/ceph", existing: [])
        for text in [String(reflecting: registry), "\(registry)", String(reflecting: plan), "\(plan.write)"] {
            #expect(!text.contains(CephFixtures.cinderKeyA.prefix(16)) && !text.contains(CephFixtures.cinderKeyB.prefix(16)))
        }
    }

    @Test func missingDirectoryIsAnEmptyRegistry() async throws {
        let host = FakeHost()
        let registry = try await CephRegistry.load(directory: "/nowhere", host: host, inspector: FakeFileInspector(host))
        #expect(registry.clusters.isEmpty)
        #expect(registry.problems.isEmpty)
    }

    /// Each kind of bad file is reported with its file (and line) and skipped; the others load.
    @Test(arguments: [
        ("broken.toml", "fsid = \"x", 1),
        ("ceph-c.toml", "name = \"ceph-c\"\nfsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.9.9.9\"\n[user.cinder]\n", nil),
        ("ceph-d.toml", "fsid = \"3c2d1e0f-0a1b-4c2d-8e3f-405162738495\"\nmon_host = \"10.9.9.9\"\n[user.x]\nsecret_uuid = \"\(CephFixtures.secretUUIDA)\"\n", nil),
        ("ceph-e.toml", "fsid = \"3c2d1e0f-0a1b-4c2d-8e3f-405162738495\"\nmon_host = \"10.9.9.9\"\n[pool.x]\n", 3),
        ("other-name.toml", "name = \"ceph-f\"\nfsid = \"3c2d1e0f-0a1b-4c2d-8e3f-405162738495\"\nmon_host = \"10.9.9.9\"\n[user.x]\n", 1),
    ] as [(String, String, Int?)])
    func badFileIsReportedAndSkipped(name: String, text: String, line: Int?) async throws {
        let path = "\(directory)/clusters.d/\(name)"
        let host = try await CephFixtures.host(extra: [path: text])
        let registry = try await CephRegistry.load(directory: directory, host: host, inspector: FakeFileInspector(host))
        #expect(registry.names == ["ceph-a", "ceph-b"])
        #expect(registry.problems.count == 1)
        #expect(registry.problems.first?.file == path)
        #expect(registry.problems.first?.line == line)
        let error = TetherError.cephBadRegistryFile(try #require(registry.problems.first))
        #expect(error.code == .cephBadRegistryFile)
        #expect(error.message.hasPrefix(path))
    }

    @Test func onlyTOMLFilesAreRead() async throws {
        let host = try await CephFixtures.host(extra: [
            "\(directory)/clusters.d/ceph-a.toml.tmp-12-34": "garbage",
            "\(directory)/clusters.d/.ceph-z.toml": "garbage",
            "\(directory)/clusters.d/README": "garbage",
        ])
        let registry = try await CephRegistry.load(directory: directory, host: host, inspector: FakeFileInspector(host))
        #expect(registry.problems.isEmpty)
        #expect(registry.names == ["ceph-a", "ceph-b"])
    }

    /// A key file must be 0600 or narrower; a bad key leaves its cluster up without that user's key.
    @Test(arguments: [
        (0o600, CephFixtures.cinderKeyA, true),
        (0o400, CephFixtures.cinderKeyA, true),
        (0o640, CephFixtures.cinderKeyA, false),
        (0o644, CephFixtures.cinderKeyA, false),
        (0o604, CephFixtures.cinderKeyA, false),
        (0o600, "", false),
        (0o600, "not a key", false),
        (0o600, String(CephFixtures.cinderKeyA.prefix(24)), false),
        (0o600, "[client.cinder]\n\tkey = \(CephFixtures.cinderKeyA)\n", false),
    ] as [(UInt32, String, Bool)])
    func keyFileModeAndContents(mode: UInt32, contents: String, usable: Bool) async throws {
        let keyFile = "\(directory)/keys/ceph-a.client.cinder.key"
        let host = try await CephFixtures.host()
        try await CephFixtures.put(host, keyFile, contents, mode: mode)
        let registry = try await CephRegistry.load(directory: directory, host: host, inspector: FakeFileInspector(host))
        let a = try #require(registry.cluster(named: "ceph-a"))
        let cinder = try #require(a.user(named: "cinder"))
        #expect((registry.key(for: cinder, in: a) != nil) == usable)
        #expect(registry.key(for: a.user(named: "nova")!, in: a) != nil)
        if usable { return }
        #expect(registry.problems.map(\.file) == [keyFile])
        let error = #expect(throws: TetherError.self) { try registry.requireKey(for: cinder, in: a) }
        #expect(error?.code == .cephBadKeyFile)
        #expect(error?.hint?.contains(keyFile) == true)
        // The reason never quotes the key.
        #expect(!registry.problems.contains { $0.description.contains(CephFixtures.cinderKeyA.prefix(16)) })
    }

    @Test func missingKeyFileIsReported() async throws {
        let host = try await CephFixtures.host()
        try await host.removeFile("\(directory)/keys/ceph-b.client.cinder.key")
        let registry = try await CephRegistry.load(directory: directory, host: host, inspector: FakeFileInspector(host))
        #expect(registry.names == ["ceph-a", "ceph-b"])
        #expect(registry.problems.count == 1)
        #expect(registry.problems.first?.message.contains("missing") == true)
    }

    @Test func writeThenLoadGivesTheSameClusterAndKeys() async throws {
        let source = try await CephFixtures.registry()
        let host = FakeHost()
        for cluster in source.clusters {
            let keys = Dictionary(uniqueKeysWithValues: cluster.users.compactMap { user in source.key(for: user, in: cluster).map { (user.name, $0) } })
            try await CephRegistry.write(cluster, keys: keys, directory: directory, host: host)
        }
        #expect(host.file("\(directory)/clusters.d/ceph-a.toml")?.mode == 0o644)
        #expect(host.file("\(directory)/keys/ceph-a.client.cinder.key")?.mode == 0o600)
        #expect(host.file("\(directory)/keys/ceph-a.client.cinder.key")?.contents == Array((CephFixtures.cinderKeyA + "\n").utf8))
        // The registry file holds no key.
        let text = try await host.read("\(directory)/clusters.d/ceph-a.toml")
        #expect(!text.contains(CephFixtures.cinderKeyA) && !text.contains(CephFixtures.novaKeyA))

        let loaded = try await CephRegistry.load(directory: directory, host: host, inspector: FakeFileInspector(host))
        #expect(loaded.problems.isEmpty)
        #expect(loaded.clusters == source.clusters)
        for cluster in loaded.clusters {
            for user in cluster.users {
                #expect(loaded.key(for: user, in: cluster) == source.key(for: user, in: cluster))
            }
        }
    }

    @Test func writeRefusesKeysThatCannotWork() async throws {
        let cluster = try #require(try await CephFixtures.registry().cluster(named: "ceph-a"))
        let host = FakeHost()
        for keys in [["glance": Secret(CephFixtures.cinderKeyA)], ["cinder": Secret("AQAA\nkey")]] {
            let error = await #expect(throws: TetherError.self) {
                try await CephRegistry.write(cluster, keys: keys, directory: directory, host: host)
            }
            #expect(error?.code == .invalidInput)
        }
        #expect(host.filePaths.isEmpty)
    }

    @Test func removeDeletesTheFileAndItsKeys() async throws {
        let host = try await CephFixtures.host()
        let removed = try await CephRegistry.remove("ceph-a", directory: directory, host: host)
        #expect(removed == [
            "\(directory)/keys/ceph-a.client.cinder.key", "\(directory)/keys/ceph-a.client.nova.key", "\(directory)/clusters.d/ceph-a.toml",
        ])
        #expect(host.filePaths == ["\(directory)/clusters.d/ceph-b.toml", "\(directory)/keys/ceph-b.client.cinder.key"])
        let error = await #expect(throws: TetherError.self) { try await CephRegistry.remove("ceph-a", directory: directory, host: host) }
        #expect(error?.code == .notFound)
    }

    @Test func insertRefusesClashes() async throws {
        var registry = try await CephFixtures.registry()
        let a = try #require(registry.cluster(named: "ceph-a"))
        let monitors = try CephMonitor.parse(["10.9.9.9"])
        let user = try CephUser(name: "cinder", keyFile: "/k")
        let clashes = [
            a,
            try CephCluster(name: "ceph-z", fsid: a.fsid, monitors: monitors, users: [user]),
            try CephCluster(name: "ceph-z", fsid: UUID(), monitors: monitors, users: [CephUser(name: "x", keyFile: "/k", secretUUID: a.secretUUID(for: a.users[1]))]),
            try CephCluster(name: "ceph-z", fsid: UUID(), monitors: monitors, users: [
                CephUser(name: "x", keyFile: "/k", secretUUID: UUID(uuidString: CephFixtures.fsidB)),
                CephUser(name: "y", keyFile: "/k", secretUUID: UUID(uuidString: CephFixtures.fsidB)),
            ]),
        ]
        for cluster in clashes {
            let error = #expect(throws: TetherError.self) { try registry.insert(cluster) }
            #expect(error?.code == .conflict)
        }
        #expect(registry.names == ["ceph-a", "ceph-b"])
    }
}
