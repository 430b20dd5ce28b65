import Foundation
import TetherCeph
import TetherCore
import TetherFakes
import Testing

/// `cluster_fsid`, which a storage node's Tether export sends beside its own `cluster_name`: the
/// compute node finds the cluster by fsid whatever it calls it, and refuses whenever the name or
/// the monitors point at another cluster than the fsid.
@Suite struct CephResolverFSIDTests {
    /// ceph-a as a storage node that calls it "east" exports it.
    static func export(_ changes: [String: JSONValue?] = [:]) throws -> RBDConnectionData {
        var all: [String: JSONValue?] = ["cluster_name": "east", "cluster_fsid": .string(CephFixtures.fsidA)]
        all.merge(changes) { _, new in new }
        return try CephFixtures.rbd(all)
    }

    @Test func fsidFindsTheClusterRegisteredHereUnderAnotherName() async throws {
        let registry = try await CephFixtures.registry()
        let found = try CephResolver.resolve(Self.export(), in: registry)
        #expect(found.cluster.name == "ceph-a")
        #expect(found.user.name == "cinder")
        #expect(found.match == .fsid)
        // No name at all, or the same name as here: the fsid decides all the same.
        #expect(try CephResolver.resolve(Self.export(["cluster_name": nil]), in: registry).match == .fsid)
        #expect(try CephResolver.resolve(Self.export(["cluster_name": "ceph-a"]), in: registry).cluster.name == "ceph-a")
        // Upper case is the same fsid.
        #expect(try CephResolver.resolve(Self.export(["cluster_fsid": .string(CephFixtures.fsidA.uppercased())]), in: registry).cluster.name == "ceph-a")
    }

    @Test func fsidWithoutUserTakesTheSecretUUIDsUserOrTheDefault() async throws {
        let registry = try await CephFixtures.registry()
        let a = try #require(registry.cluster(named: "ceph-a"))
        let nova = a.secretUUID(for: try #require(a.user(named: "nova"))).uuidString.lowercased()
        let byUUID = try CephResolver.resolve(Self.export(["auth_username": nil, "secret_uuid": .string(nova)]), in: registry)
        #expect(byUUID.user.name == "nova" && byUUID.match == .fsid)
        // A secret UUID the storage node's registry gave, unknown here: the default user.
        let unknown = try CephResolver.resolve(Self.export(["auth_username": nil, "secret_uuid": "11111111-2222-4333-8444-555555555555"]), in: registry)
        #expect(unknown.user.name == "cinder")
    }

    /// The name is registered here for another fsid: two clusters named, neither attached.
    @Test func nameOfAnotherClusterHereIsAConflictNamingBoth() async throws {
        let registry = try await CephFixtures.registry()
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(Self.export(["cluster_name": "ceph-b"]), in: registry) }
        #expect(error?.code == .conflict)
        for mention in ["\"ceph-b\"", CephFixtures.fsidB, CephFixtures.fsidA, "cluster ceph-a here"] {
            #expect(error?.message.contains(mention) == true, "\(mention): \(String(describing: error))")
        }
    }

    /// An fsid not registered here, but a name that is (with its own fsid): a conflict, not a
    /// fall-back to the name.
    @Test func unknownFSIDWithANameRegisteredHereIsAConflict() async throws {
        let registry = try await CephFixtures.registry()
        let other = "3c2d1e0f-0a1b-4c2d-8e3f-405162738495"
        let error = #expect(throws: TetherError.self) {
            try CephResolver.resolve(Self.export(["cluster_name": "ceph-a", "cluster_fsid": .string(other)]), in: registry)
        }
        #expect(error?.code == .conflict)
        for mention in ["\"ceph-a\"", CephFixtures.fsidA, other, "no cluster registered here"] {
            #expect(error?.message.contains(mention) == true, "\(mention): \(String(describing: error))")
        }
    }

    /// An fsid not registered here whose monitors are a registered cluster's: a conflict naming
    /// that cluster, not a fall-back to the monitors.
    @Test func unknownFSIDWithMonitorsOfAClusterHereIsAConflict() async throws {
        let registry = try await CephFixtures.registry()
        let other = "3c2d1e0f-0a1b-4c2d-8e3f-405162738495"
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(Self.export(["cluster_fsid": .string(other)]), in: registry) }
        #expect(error?.code == .conflict)
        for mention in [other, "cluster ceph-a (fsid \(CephFixtures.fsidA))", "192.0.2.21:6789"] {
            #expect(error?.message.contains(mention) == true, "\(mention): \(String(describing: error))")
        }
    }

    @Test func unknownFSIDAloneIsNotFoundNamingIt() async throws {
        let registry = try await CephFixtures.registry()
        let other = "3c2d1e0f-0a1b-4c2d-8e3f-405162738495"
        let data = try Self.export(["cluster_fsid": .string(other), "hosts": ["198.51.100.7"], "ports": ["6789"]])
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(data, in: registry) }
        #expect(error?.code == .notFound)
        for mention in [other, "ceph-a (\(CephFixtures.fsidA))", "ceph-b (\(CephFixtures.fsidB))"] {
            #expect(error?.message.contains(mention) == true, "\(mention): \(String(describing: error))")
        }
    }

    /// The fsid picks a cluster, and the monitors are still checked against it.
    @Test func monitorsStillCheckedAgainstTheFSIDsCluster() async throws {
        let registry = try await CephFixtures.registry()
        let error = #expect(throws: TetherError.self) {
            try CephResolver.resolve(Self.export(["cluster_fsid": .string(CephFixtures.fsidB)]), in: registry)
        }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("cluster_fsid points at cluster ceph-b") == true, "\(String(describing: error))")
        #expect(error?.message.contains("belong to cluster ceph-a") == true)
        // Monitors the registry does not know at all: refused too.
        let elsewhere = #expect(throws: TetherError.self) {
            try CephResolver.resolve(Self.export(["hosts": ["198.51.100.7"], "ports": ["6789"]]), in: registry)
        }
        #expect(elsewhere?.code == .conflict)
        #expect(elsewhere?.message.contains("no registered cluster") == true)
        // No monitors sent: the fsid alone is enough.
        #expect(try CephResolver.resolve(Self.export(["hosts": nil, "ports": nil]), in: registry).cluster.name == "ceph-a")
    }

    @Test func malformedFSIDIsInvalidInput() throws {
        let error = #expect(throws: TetherError.self) { try Self.export(["cluster_fsid": "east"]) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("cluster_fsid") == true)
    }
}
