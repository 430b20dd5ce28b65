import Foundation
import TetherCeph
import TetherCore
import Testing

@Suite struct CephClusterFileTests {
    @Test func readsADeploymentToolsFile() throws {
        let cluster = try CephClusterFile.parse(CephFixtures.clusterA, path: "/etc/tether/clusters.d/ceph-a.toml", registryDirectory: "/etc/tether")
        #expect(cluster.name == "ceph-a")
        #expect(cluster.fsid == UUID(uuidString: CephFixtures.fsidA))
        #expect(cluster.monHost == "[v2:192.0.2.21:3300,v1:192.0.2.21:6789],v1:192.0.2.22:6789,[v2:192.0.2.23:3300,v1:192.0.2.23:6789]")
        #expect(cluster.users.map(\.name) == ["cinder", "nova"])
        #expect(cluster.defaultUser?.name == "cinder")
        let cinder = try #require(cluster.user(named: "cinder"))
        #expect(cinder.keyFile == "/etc/tether/keys/ceph-a.client.cinder.key")
        #expect(cinder.secretUUID == UUID(uuidString: CephFixtures.secretUUIDA))
        #expect(cluster.user(named: "nova")?.secretUUID == nil)
    }

    @Test func leavesOutWhatHasADefault() throws {
        let cluster = try CephClusterFile.parse(CephFixtures.clusterB, path: "/srv/t/clusters.d/ceph-b.toml", registryDirectory: "/srv/t")
        #expect(cluster.user(named: "cinder")?.keyFile == "/srv/t/keys/ceph-b.client.cinder.key")
        #expect(cluster.defaultUser?.name == "cinder")
        #expect(cluster.defaultUserName == nil)
        #expect(cluster.monitors.count == 1)
    }

    @Test func writesWhatItReads() throws {
        let path = "/etc/tether/clusters.d/ceph-a.toml"
        let cluster = try CephClusterFile.parse(CephFixtures.clusterA, path: path, registryDirectory: "/etc/tether")
        let text = CephClusterFile.render(cluster)
        #expect(text == """
            # Ceph cluster ceph-a for tether. Keys live in the key files named below, never here.
            name = "ceph-a"
            fsid = "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"
            mon_host = ["[v2:192.0.2.21:3300,v1:192.0.2.21:6789]", "v1:192.0.2.22:6789", "[v2:192.0.2.23:3300,v1:192.0.2.23:6789]"]
            default_user = "cinder"

            [user.cinder]
            key_file = "/etc/tether/keys/ceph-a.client.cinder.key"
            secret_uuid = "457eb676-33da-42ec-9a8c-9293d545c337"

            [user.nova]
            key_file = "/etc/tether/keys/ceph-a.client.nova.key"

            """)
        #expect(try CephClusterFile.parse(text, path: path, registryDirectory: "/elsewhere") == cluster)
    }

    @Test func quotesWhatTOMLMustEscape() throws {
        let user = try CephUser(name: "cinder", keyFile: #"/keys/a "b" \c.key"#)
        let cluster = try CephCluster(name: "q", fsid: UUID(), monitors: CephMonitor.parse(["10.0.0.1"]), users: [user])
        let read = try CephClusterFile.parse(CephClusterFile.render(cluster), path: "/r/clusters.d/q.toml", registryDirectory: "/r")
        #expect(read == cluster)
    }

    /// The UUID the hand-written SHA-256 derived before swift-crypto replaced it: libvirt secrets
    /// and domain XML already carry it, so it must not change.
    @Test func derivedSecretUUIDIsUnchanged() {
        let fsid = UUID(uuidString: CephFixtures.fsidA)!
        #expect(CephCluster.derivedSecretUUID(fsid: fsid, user: "cinder") == UUID(uuidString: "dccce9f2-d477-83a0-bb84-c8ff1fc323ca"))
    }

    /// TOML 1.0 forms a deployment tool may write: inline tables, dotted keys, multi-line
    /// arrays with comments, literal strings. They read as the usual file does.
    @Test func readsEveryTOMLFormOfTheSameFile() throws {
        let path = "/etc/tether/clusters.d/ceph-a.toml"
        let usual = try CephClusterFile.parse(CephFixtures.clusterA, path: path, registryDirectory: "/etc/tether")
        let other = try CephClusterFile.parse(
            """
            name = 'ceph-a'
            fsid = "\(CephFixtures.fsidA)"
            mon_host = [
                "v2:192.0.2.21:3300", "v1:192.0.2.21:6789",   # mon a
                "192.0.2.22:6789",
                '''[v2:192.0.2.23:3300,v1:192.0.2.23:6789]''',
            ]
            default_user = "cinder"
            user.cinder = { key_file = "/etc/tether/keys/ceph-a.client.cinder.key", secret_uuid = "\(CephFixtures.secretUUIDA)" }
            user.nova.key_file = '/etc/tether/keys/ceph-a.client.nova.key'
            """, path: path, registryDirectory: "/etc/tether")
        #expect(other == usual)
    }

    /// A user name TOML cannot write bare (`a.b`) is written quoted and reads back as one key.
    @Test func quotesUserNamesThatAreNotBareKeys() throws {
        let user = try CephUser(name: "a.b", keyFile: "/keys/a.b.key")
        let cluster = try CephCluster(name: "q", fsid: UUID(), monitors: CephMonitor.parse(["10.0.0.1"]), users: [user])
        let text = CephClusterFile.render(cluster)
        #expect(text.contains(#"[user."a.b"]"#))
        #expect(try CephClusterFile.parse(text, path: "/r/clusters.d/q.toml", registryDirectory: "/r") == cluster)
    }

    /// Each kind of bad file: the error names the file, the line when it can, and what is wrong.
    @Test(arguments: [
        ("name = \"ceph-a\"\nfsid = \"x\n", 2, "Error while parsing string"),
        ("name = \"other\"\nfsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\n[user.cinder]\n", 1, "does not match the file name"),
        ("fsid = \"not-a-uuid\"\nmon_host = \"10.0.0.1\"\n[user.cinder]\n", 1, "is not a UUID"),
        ("fsid = \"\(CephFixtures.fsidA)\"\n[user.cinder]\n", nil, "mon_host is missing"),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = [6789]\n[user.cinder]\n", 2, "list of strings"),
        ("fsid = \"\(CephFixtures.fsidA)\"\n\nmon_host = [\"10.0.0.1:99999\"]\n[user.cinder]\n", 3, "no valid port"),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\n", nil, "no users"),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\n[user.cinder]\nkey_file = \"keys/c.key\"\n", 4, "absolute path"),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\n[user.cinder]\nkeyfile = \"/k\"\n", 4, "unknown key keyfile"),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\n[users.cinder]\n", 3, "unknown table [users.cinder]"),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\n[user.client.cinder]\n", 3, "without \"client.\""),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\ndefault_user = \"nova\"\n[user.cinder]\n", 3, "not one of its users"),
        ("fsid = \"\(CephFixtures.fsidA)\"\nmon_host = \"10.0.0.1\"\n[user.cinder]\nsecret_uuid = \"nope\"\n", 4, "secret_uuid"),
    ] as [(String, Int?, String)])
    func badFileSaysWhereAndWhat(text: String, line: Int?, mentions: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try CephClusterFile.parse(text, path: "/etc/tether/clusters.d/ceph-a.toml", registryDirectory: "/etc/tether")
        }
        #expect(error?.file == "/etc/tether/clusters.d/ceph-a.toml")
        #expect(error?.line == line)
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
    }

    @Test(arguments: ["", "a.b", "-x", "has space", "ceph/../x", String(repeating: "a", count: 64)])
    func clusterNamesAreSafeInFileNames(name: String) {
        let error = #expect(throws: TetherError.self) { try CephCluster.validate(name: name) }
        #expect(error?.code == .invalidInput)
    }

    @Test(arguments: ["", "../x", ".hidden", "client.cinder", "a/b", "a b"])
    func userNamesAreSafeInFileNames(name: String) {
        let error = #expect(throws: TetherError.self) { try CephUser.validate(name: name) }
        #expect(error?.code == .invalidInput)
    }
}
