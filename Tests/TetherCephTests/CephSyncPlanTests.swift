import Foundation
import TetherCeph
import TetherCore
import TetherFakes
import Testing

@Suite struct CephSyncPlanTests {
    let ceph = CephFixtures.cephDirectory

    func load(_ host: FakeHost) async throws -> CephRegistry {
        try await CephRegistry.load(directory: CephFixtures.directory, host: host, inspector: FakeFileInspector(host))
    }

    func plan(_ host: FakeHost) async throws -> CephSyncPlan {
        try await CephSyncPlan.make(registry: load(host), cephDirectory: ceph, host: host, inspector: FakeFileInspector(host))
    }

    @Test func emptyDirectoryGetsEveryFileKeyringsFirst() async throws {
        let host = try await CephFixtures.host()
        let plan = try await plan(host)
        #expect(plan.write.map(\.path) == [
            "\(ceph)/ceph-a.client.cinder.keyring", "\(ceph)/ceph-a.client.nova.keyring", "\(ceph)/ceph-a.conf",
            "\(ceph)/ceph-b.client.cinder.keyring", "\(ceph)/ceph-b.conf",
        ])
        #expect(plan.delete.isEmpty && plan.conflicts.isEmpty)
        try await plan.apply(to: host)
        #expect(host.file("\(ceph)/ceph-a.client.nova.keyring")?.mode == 0o600)
        #expect(host.file("\(ceph)/ceph-a.conf")?.mode == 0o644)
        #expect(try await self.plan(host).isEmpty, "a second sync changes nothing")
    }

    @Test func removedClusterLeavesNothingBehind() async throws {
        let host = try await CephFixtures.host()
        try await plan(host).apply(to: host)
        let before = host.filePaths
        try await CephRegistry.remove("ceph-b", directory: CephFixtures.directory, host: host)
        let plan = try await plan(host)
        #expect(plan.write.isEmpty)
        #expect(plan.delete == ["\(ceph)/ceph-b.client.cinder.keyring", "\(ceph)/ceph-b.conf"])
        try await plan.apply(to: host)
        #expect(!host.filePaths.contains { $0.contains("ceph-b") })
        #expect(host.filePaths.count == before.count - 4)
    }

    @Test func staleKeyringOfARemovedUserGoesOthersStay() async throws {
        let host = try await CephFixtures.host()
        try await plan(host).apply(to: host)
        try await CephFixtures.put(host, "\(ceph)/ceph-a.client.glance.keyring", "[client.glance]\n\tkey = \(CephFixtures.cinderKeyB)\n", mode: 0o600)
        // Not Tether's: more than a section and a key.
        try await CephFixtures.put(host, "\(ceph)/ceph-a.client.admin.keyring", "[client.admin]\n\tkey = \(CephFixtures.cinderKeyB)\n\tcaps mon = \"allow *\"\n", mode: 0o600)
        try await CephFixtures.put(host, "\(ceph)/ceph.conf", "[global]\n\tmon host = 10.0.0.1\n", mode: 0o644)
        try await CephFixtures.put(host, "\(ceph)/ceph.client.admin.keyring", "[client.admin]\n\tkey = \(CephFixtures.cinderKeyB)\n", mode: 0o600)
        try await CephFixtures.put(host, "\(ceph)/rbdmap", "", mode: 0o644)
        let plan = try await plan(host)
        #expect(plan.write.isEmpty)
        #expect(plan.delete == ["\(ceph)/ceph-a.client.glance.keyring"])
        #expect(plan.conflicts.isEmpty)
    }

    @Test func modeDriftIsRepaired() async throws {
        let host = try await CephFixtures.host()
        try await plan(host).apply(to: host)
        let path = "\(ceph)/ceph-a.client.cinder.keyring"
        let contents = try #require(host.file(path)).contents
        try await host.writeFile(path, contents: contents, mode: 0o644)
        let plan = try await plan(host)
        #expect(plan.write.map(\.path) == [path])
        try await plan.apply(to: host)
        #expect(host.file(path)?.mode == 0o600)
    }

    @Test func changedMonitorsRewriteTheConf() async throws {
        let host = try await CephFixtures.host()
        try await plan(host).apply(to: host)
        try await CephFixtures.put(host, "\(CephFixtures.directory)/clusters.d/ceph-b.toml", CephFixtures.clusterB.replacingOccurrences(of: "6801", with: "6802"), mode: 0o644)
        #expect(try await plan(host).write.map(\.path) == ["\(ceph)/ceph-b.conf"])
    }

    @Test func filesTetherDidNotWriteAreNeverReplaced() async throws {
        // A cluster registered as "ceph" on a node whose /etc/ceph/ceph.conf someone else wrote.
        let text = CephFixtures.clusterB.replacingOccurrences(of: "ceph-b", with: "ceph")
        let host = try await CephFixtures.host(extra: ["\(CephFixtures.directory)/clusters.d/ceph.toml": text])
        try await host.removeFile("\(CephFixtures.directory)/clusters.d/ceph-b.toml")
        try await CephFixtures.put(host, "\(CephFixtures.directory)/keys/ceph.client.cinder.key", CephFixtures.cinderKeyB, mode: 0o600)
        try await CephFixtures.put(host, "\(ceph)/ceph.conf", "[global]\n\tmon host = 10.0.0.1\n", mode: 0o644)
        try await CephFixtures.put(host, "\(ceph)/ceph.client.cinder.keyring", "[client.cinder]\n\tkey = \(CephFixtures.cinderKeyA)\n\tcaps osd = \"profile rbd\"\n", mode: 0o600)
        let plan = try await plan(host)
        #expect(plan.conflicts == ["\(ceph)/ceph.client.cinder.keyring", "\(ceph)/ceph.conf"])
        #expect(!plan.write.contains { $0.path.hasPrefix("\(ceph)/ceph.") })
        #expect(plan.delete.isEmpty)
    }

    @Test func userWithAnUnreadableKeyKeepsItsKeyring() async throws {
        let host = try await CephFixtures.host()
        try await plan(host).apply(to: host)
        try await CephFixtures.put(host, "\(CephFixtures.directory)/keys/ceph-a.client.nova.key", CephFixtures.novaKeyA, mode: 0o644)
        let plan = try await plan(host)
        #expect(plan.isEmpty)
    }

    @Test func pureFormPlansFromAListing() throws {
        let existing = [
            CephSyncPlan.ExistingFile(name: "old.conf", mode: 0o644, contents: Secret("\(CephFileSet.header)\n[global]\n")),
            CephSyncPlan.ExistingFile(name: "old.client.cinder.keyring", mode: 0o600, contents: Secret("[client.cinder]\n\tkey = \(CephFixtures.cinderKeyA)\n")),
            CephSyncPlan.ExistingFile(name: "mine.conf", mode: 0o644, contents: Secret("[global]\n")),
        ]
        let plan = CephSyncPlan(registry: CephRegistry(), cephDirectory: "/c", existing: existing)
        #expect(plan.delete == ["/c/old.client.cinder.keyring", "/c/old.conf"])
        #expect(plan.write.isEmpty && plan.conflicts.isEmpty)
    }
}
