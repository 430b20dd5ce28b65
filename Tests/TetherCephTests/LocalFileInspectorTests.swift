import Foundation
import TetherCeph
import TetherCore
import TetherLinux
import TetherFakes
import Testing

/// The real file system: a registry written by `LinuxHost` loads back, and modes are what `stat` says.
@Suite struct LocalFileInspectorTests {
    @Test func registryRoundTripOnDisk() async throws {
        try await TemporaryDirectory.with(prefix: "tceph") { temp in
            let host = LinuxHost()
            let source = try await CephFixtures.registry()
            let a = try #require(source.cluster(named: "ceph-a"))
            let moved = try CephCluster(
                name: a.name, fsid: a.fsid, monitors: a.monitors,
                users: a.users.map { try CephUser(name: $0.name, keyFile: CephRegistry.defaultKeyFile(cluster: a.name, user: $0.name, directory: temp.path), secretUUID: $0.secretUUID) },
                defaultUser: a.defaultUserName)
            let keys = Dictionary(uniqueKeysWithValues: a.users.map { ($0.name, source.key(for: $0, in: a)!) })
            try await CephRegistry.write(moved, keys: keys, directory: temp.path, host: host)

            let inspector = LocalFileInspector()
            let keyFile = CephRegistry.defaultKeyFile(cluster: "ceph-a", user: "cinder", directory: temp.path)
            #expect(try await inspector.permissions(of: keyFile) == 0o600)
            #expect(try await inspector.permissions(of: temp.file("absent")) == nil)
            #expect(try await inspector.contentsOfDirectory(temp.file("absent")) == nil)
            #expect(try await inspector.contentsOfDirectory(CephRegistry.clustersDirectory(temp.path)) == ["ceph-a.toml"])

            let loaded = try await CephRegistry.load(directory: temp.path, host: host)
            #expect(loaded.problems.isEmpty)
            #expect(loaded.clusters == [moved])

            chmod(keyFile, 0o644)
            let widened = try await CephRegistry.load(directory: temp.path, host: host)
            #expect(widened.problems.map(\.file) == [keyFile])
            #expect(widened.problems.first?.message.contains("0644") == true)

            // The same rule as Cinder's secret files: a key owned by another user is refused too.
            chmod(keyFile, 0o600)
            chown(keyFile, 4242, 4242)
            #expect(try await inspector.status(of: keyFile) == SecretFile.Status(mode: 0o600, owner: 4242))
            let foreign = try await CephRegistry.load(directory: temp.path, host: host)
            #expect(foreign.problems.map(\.file) == [keyFile])
            #expect(foreign.problems.first?.message.contains("uid 4242") == true)
            #expect(foreign.problems.first?.message.contains("chown") == true)
        }
    }
}
