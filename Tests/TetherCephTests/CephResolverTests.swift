import Foundation
import TetherCeph
import TetherCore
import TetherFakes
import Testing

@Suite struct CephResolverTests {
    @Test func cinderPayloadResolvesByClusterName() async throws {
        let registry = try await CephFixtures.registry()
        let found = try CephResolver.resolve(CephFixtures.rbd(), in: registry)
        #expect(found.cluster.name == "ceph-a")
        #expect(found.user.name == "cinder")
        #expect(found.match == .clusterName)
    }

    @Test func bySecretUUIDGivenOrDerived() async throws {
        let registry = try await CephFixtures.registry()
        let given = try CephResolver.resolve(CephFixtures.rbd(["cluster_name": nil, "auth_username": nil]), in: registry)
        #expect(given.cluster.name == "ceph-a")
        #expect(given.user.name == "cinder")
        #expect(given.match == .secretUUID)

        let a = try #require(registry.cluster(named: "ceph-a"))
        let derived = a.secretUUID(for: a.user(named: "nova")!).uuidString.lowercased()
        let found = try CephResolver.resolve(CephFixtures.rbd(["cluster_name": nil, "auth_username": nil, "secret_uuid": .string(derived)]), in: registry)
        #expect(found.cluster.name == "ceph-a")
        #expect(found.user.name == "nova", "the UUID's user when the request names none")
        #expect(found.match == .secretUUID)
    }

    /// Cinder's hosts with string ports (the mons' v1 ports), or any one v2 address.
    @Test(arguments: [
        (["192.0.2.21", "192.0.2.22", "192.0.2.23"], ["6789", "6789", "6789"], "ceph-a"),
        (["192.0.2.99", "192.0.2.22"], ["6789", "6789"], "ceph-a"),
        (["192.0.2.23"], ["3300"], "ceph-a"),
        (["127.0.0.1"], ["6801"], "ceph-b"),
        (["127.0.0.1"], ["6800"], "ceph-b"),
    ] as [([JSONValue], [JSONValue], String)])
    func byMonitorAddresses(hosts: [JSONValue], ports: [JSONValue], cluster: String) async throws {
        let registry = try await CephFixtures.registry()
        let data = try CephFixtures.rbd(["cluster_name": nil, "secret_uuid": nil, "hosts": .array(hosts), "ports": .array(ports)])
        let found = try CephResolver.resolve(data, in: registry)
        #expect(found.cluster.name == cluster)
        #expect(found.user.name == "cinder")
        #expect(found.match == .monitors)
    }

    @Test func unknownSecretUUIDFallsThroughToHosts() async throws {
        let registry = try await CephFixtures.registry()
        let data = try CephFixtures.rbd(["cluster_name": nil, "secret_uuid": "11111111-2222-4333-8444-555555555555"])
        #expect(try CephResolver.resolve(data, in: registry).match == .monitors)
    }

    @Test func byInlineKeyringAsCinderlibSendsIt() async throws {
        let registry = try await CephFixtures.registry()
        let keyring = "[client.cinder]\n\tkey = \(CephFixtures.cinderKeyB)\n\tcaps mon = \"profile rbd\"\n"
        let data = try CephFixtures.rbd(["cluster_name": nil, "secret_uuid": nil, "hosts": nil, "ports": nil, "auth_username": nil, "keyring": .string(keyring)])
        let found = try CephResolver.resolve(data, in: registry)
        #expect(found.cluster.name == "ceph-b")
        #expect(found.user.name == "cinder")
        #expect(found.match == .keyring)

        let nova = try CephFixtures.rbd(["cluster_name": nil, "secret_uuid": nil, "hosts": nil, "ports": nil, "auth_username": nil, "keyring": .string(CephFixtures.novaKeyA)])
        #expect(try CephResolver.resolve(nova, in: registry).user.name == "nova")
    }

    @Test func noMatchSaysWhatItLookedFor() async throws {
        let registry = try await CephFixtures.registry()
        let data = try CephFixtures.rbd([
            "cluster_name": nil, "secret_uuid": "11111111-2222-4333-8444-555555555555",
            "hosts": ["198.51.100.7", "198.51.100.8"], "ports": ["6789", "6789"],
            "keyring": "[client.cinder]\n\tkey = AQAA8VNlAAAAABAAAAsWISw3Qk1YY255hI+apA==\n",
        ])
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(data, in: registry) }
        #expect(error?.code == .notFound)
        for mention in ["11111111-2222-4333-8444-555555555555", "198.51.100.7:6789", "198.51.100.8:6789", "keyring", "ceph-a, ceph-b"] {
            #expect(error?.message.contains(mention) == true, "\(mention)")
        }
        #expect(error?.message.contains("AQAA8VNl") == false, "a key is never quoted")
    }

    @Test func unknownClusterNameIsAnErrorEvenWhenHostsMatch() async throws {
        let registry = try await CephFixtures.registry()
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(CephFixtures.rbd(["cluster_name": "ceph"]), in: registry) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("\"ceph\"") == true)
    }

    @Test func nameAndHostsMustAgree() async throws {
        let registry = try await CephFixtures.registry()
        let data = try CephFixtures.rbd(["cluster_name": "ceph-b"])
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(data, in: registry) }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("ceph-b") == true)
        #expect(error?.message.contains("belong to cluster ceph-a") == true)

        let uuidOfB = registry.cluster(named: "ceph-b")!.secretUUID(for: registry.cluster(named: "ceph-b")!.users[0]).uuidString
        let byUUID = try CephFixtures.rbd(["cluster_name": nil, "secret_uuid": .string(uuidOfB)])
        let disagreeing = #expect(throws: TetherError.self) { try CephResolver.resolve(byUUID, in: registry) }
        #expect(disagreeing?.code == .conflict)
    }

    @Test func sharedMonitorAddressIsAmbiguous() async throws {
        let host = try await CephFixtures.host(extra: [
            "/etc/tether/clusters.d/lab-2.toml": """
                fsid = "3c2d1e0f-0a1b-4c2d-8e3f-405162738495"
                mon_host = ["v1:192.0.2.22:6789", "v2:10.1.1.1:3300"]
                [user.cinder]
                """,
        ])
        let registry = try await CephRegistry.load(directory: "/etc/tether", host: host, inspector: FakeFileInspector(host))
        let data = try CephFixtures.rbd(["cluster_name": nil, "secret_uuid": nil])
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(data, in: registry) }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("ceph-a, lab-2") == true)
        // Same host, other port: not the same monitor.
        let other = try CephFixtures.rbd(["cluster_name": nil, "secret_uuid": nil, "hosts": ["192.0.2.22"], "ports": ["6790"]])
        let unmatched = #expect(throws: TetherError.self) { try CephResolver.resolve(other, in: registry) }
        #expect(unmatched?.code == .notFound)
        #expect(try CephResolver.resolve(CephFixtures.rbd(["cluster_name": nil, "secret_uuid": nil, "hosts": ["192.0.2.21"], "ports": nil]), in: registry).cluster.name == "ceph-a")
    }

    @Test func unknownUserNamesTheUsersTheClusterHas() async throws {
        let registry = try await CephFixtures.registry()
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(CephFixtures.rbd(["auth_username": "glance"]), in: registry) }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("cinder, nova") == true)
        #expect(try CephResolver.resolve(CephFixtures.rbd(["auth_username": "client.nova"]), in: registry).user.name == "nova")
    }

    @Test func noUserAndNoDefaultIsInvalidInput() async throws {
        let host = try await CephFixtures.host()
        try await CephFixtures.put(host, "/etc/tether/clusters.d/ceph-a.toml", CephFixtures.clusterA.replacingOccurrences(of: "default_user = \"cinder\"\n", with: ""), mode: 0o644)
        let registry = try await CephRegistry.load(directory: "/etc/tether", host: host, inspector: FakeFileInspector(host))
        let error = #expect(throws: TetherError.self) { try CephResolver.resolve(CephFixtures.rbd(["auth_username": nil]), in: registry) }
        #expect(error?.code == .invalidInput)
    }
}
