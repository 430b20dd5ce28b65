import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherRBD
import TetherTesting
import Testing

/// Fencing for RBD (issue #15): two compute nodes (network namespaces, each with its own tetherd,
/// state, socket and Ceph user) against one real Ceph cluster; real writers are qemu-io processes
/// running Tether's QEMU description in their node's namespace.
// Serialized: each test runs a Ceph cluster and agents; more at once overload a 2-core machine.
@Suite(
    .tags(.integration), .enabled(if: Lab.runs(.cephMon, .cephOSD, .qemuIO, .nsenter, .ip, .openssl)),
    .lab(.cephMon, .cephOSD, .qemuIO, .nsenter, .ip, .openssl),
    .timeLimit(.minutes(3)), .serialized)
struct AgentFencingTests {
    /// Cinder's rbd connection_info for `image` as `user`, the monitors' v1 address.
    static func connectionInfo(_ lab: CephLab, image: String, volume: String, user: String) -> ConnectionInfo {
        ConnectionInfo(driverVolumeType: "rbd", data: [
            "name": .string("rbd/\(image)"), "hosts": .array([.string(lab.monitorV1.host)]), "ports": .array([.string(String(lab.monitorV1.port))]),
            "cluster_name": .string(lab.name), "auth_enabled": true, "auth_username": .string(user), "volume_id": .string(volume), "access_mode": "rw",
        ])
    }

    /// An agent of its own (state, socket, registry with `user` of `lab`), in `node` when given.
    static func withAgent<Value>(
        _ lab: CephLab, user: String, key: Secret, node: NodeNetwork.Node?, _ body: (AgentProcess, TetherAgentClient) async throws -> Value
    ) async throws -> Value {
        try await TemporaryDirectory.with(prefix: "reg") { registry in
            try await lab.register(in: registry.path, user: user, key: key)
            let agent = try AgentProcess(tgtd: nil, extraConfig: Lab.cephConfig(registry: registry), launcher: node?.launcher ?? [])
            defer { agent.remove() }
            return try await body(agent, TetherAgentClient(socketPath: agent.socketPath))
        }
    }

    static func withLab<Value>(address: String? = nil, _ body: (CephLab) async throws -> Value) async throws -> Value {
        let lab = try await Lab.offPool { try CephLab(name: "ceph-a", basePort: CephLab.nextBasePort(), address: address) }
        do {
            let value = try await body(lab)
            _ = try? await Lab.offPool { lab.stop() }  // stop() never throws; offPool only keeps its waits off the pool
            return value
        } catch {
            _ = try? await Lab.offPool { lab.stop() }  // as above
            throw error
        }
    }

    @Test func secondNodeIsRefusedWhileTheFirstWritesAndTakesOverOnceItIsFenced() async throws {
        try await NodeNetwork.with(nodes: 2) { network in
            let (node1, node2) = (network.nodes[0], network.nodes[1])
            try await Self.withLab(address: network.serverAddress) { lab in
                let (key1, key2) = (try lab.addUser("compute1"), try lab.addUser("compute2"))
                let setup = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                try await setup.createImage(pool: "rbd", image: "volume-f", size: 8 << 20)
                try await Self.withAgent(lab, user: "compute1", key: key1, node: node1) { agent1, client1 in
                    try await Self.withAgent(lab, user: "compute2", key: key2, node: node2) { agent2, client2 in
                        let info1 = Self.connectionInfo(lab, image: "volume-f", volume: "vol-f", user: "compute1")
                        let info2 = Self.connectionInfo(lab, image: "volume-f", volume: "vol-f", user: "compute2")
                        let (disk1, created1) = try await client1.attach(CreateAttachmentRequest(connectionInfo: info1))
                        #expect(created1)
                        // Node 1's VM: its librbd takes the exclusive lock at the first write.
                        let writer = try QEMUWriter(disk1, node: node1)
                        defer { writer.stop() }
                        let first = try writer.run("write -P 0x11 0 4096")
                        #expect(first.contains("wrote 4096/4096"), "\(first)")
                        // Who holds the lock, as Ceph itself says: the writer, on node 1's address.
                        let lockers = try lab.admin(["lock", "ls", "rbd/volume-f"], tool: "rbd").output
                        let owner = try #require(
                            lockers.split(whereSeparator: \.isWhitespace).map(String.init).first { $0.hasPrefix(node1.address + ":") }, "\(lockers)")
                        let ownerName = try #require(lockers.split(whereSeparator: \.isWhitespace).map(String.init).first { $0.hasPrefix("client.") })

                        // Node 1 asking again is the same attachment, not another client.
                        let (again, createdAgain) = try await client1.attach(CreateAttachmentRequest(connectionInfo: info1))
                        #expect(!createdAgain && again.id == disk1.id)

                        // Node 2: refused, with the owner named (client id and address) and what to do.
                        let refused = await #expect(throws: TetherError.self) { try await client2.attach(CreateAttachmentRequest(connectionInfo: info2)) }
                        #expect(refused?.code == .conflict)
                        #expect(refused?.message.contains("\(ownerName) at \(owner) holds its exclusive lock") == true, "\(String(describing: refused))")
                        #expect(refused?.hint?.contains("tether fence --cluster ceph-a \(owner)") == true)
                        // --force alone does not take it from a client that can still write.
                        let unfenced = await #expect(throws: TetherError.self) {
                            try await client2.attach(CreateAttachmentRequest(connectionInfo: info2, force: true))
                        }
                        #expect(unfenced?.code == .conflict)
                        #expect(unfenced?.message.contains("not fenced") == true)
                        #expect(try await client2.health().attachments == 0)
                        // Node 1 still writes: nothing above touched it.
                        #expect(try writer.run("write -P 0x12 0 4096").contains("wrote 4096/4096"))

                        // The operator fences node 1's writer, through tether on node 2.
                        let fence = try CLIFlowTests.tether(agent2, ["fence", owner, "--cluster", "ceph-a", "--expire", "600", "--json"])
                        #expect(fence.status == 0, "\(fence.output)")
                        let fenced = try JSONDecoder().decode(FenceResponse.self, from: Data(fence.output.utf8))
                        #expect(fenced.address == owner && !fenced.alreadyFenced && fenced.until != nil && fenced.user == "compute2")
                        // Ceph lists it (read by client.admin, not through Tether).
                        #expect(try lab.admin(["osd", "blocklist", "ls"]).output.contains(owner))

                        // Node 1's I/O fails now.
                        let cut = try writer.run("write -P 0x13 4096 4096")
                        #expect(cut.contains("write failed"), "\(cut)")

                        // Node 2 takes over: --force, now that the owner is fenced; its own writer
                        // writes and reads back (librbd breaks the fenced owner's lock).
                        let (disk2, created2) = try await client2.attach(CreateAttachmentRequest(connectionInfo: info2, force: true))
                        #expect(created2)
                        let written = try QEMU.io(disk2, command: "write -P 0x22 0 4096", node: node2)
                        #expect(written.contains("wrote 4096/4096"), "\(written)")
                        let read = try QEMU.io(disk2, command: "read -P 0x22 0 4096", node: node2)
                        #expect(read.contains("read 4096/4096"), "\(read)")

                        // Every fencing action is logged with who asked (SO_PEERCRED of tether).
                        let log = agent2.log()
                        #expect(log.contains("msg=\"fenced a Ceph client\"") && log.contains("address=\(owner)"), "\(log.suffix(3000))")
                        #expect(log.contains("requested_by=\"uid=\(getuid()) gid="))
                        #expect(log.contains("attaching over fenced clients"))
                        #expect(!agent1.log().contains("fenced a Ceph client"))
                        _ = try await client2.detach("vol-f")
                        _ = try await client1.detach("vol-f")
                    }
                }
            }
        }
    }

    /// A TLS client's fence and forced attach are logged with the names of its certificate (the
    /// ones roles are granted to), not "unknown": the TLS listener's role check writes them where
    /// the unix socket's peer check writes SO_PEERCRED.
    @Test func fenceAndForcedAttachOverTLSAreLoggedWithTheCertificate() async throws {
        try await Self.withLab { lab in
            let setup = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
            try await setup.createImage(pool: "rbd", image: "volume-t", size: 4 << 20)
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await lab.register(in: registry.path)
                try await AgentTLSTests.withAgent(extraConfig: Lab.cephConfig(registry: registry)) { tls in
                    let admin = try tls.pki.issue("admin", commonName: "admin-1", by: "ca", alternativeNames: ["DNS:ops.example.org"])
                    let tether = (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether"
                    let fence = try Lab.run(
                        tether,
                        ["--agent", tls.url, "--cert", admin.certificate, "--key", admin.key, "--ca", tls.pki.paths("ca").certificate,
                         "fence", "10.0.0.8:0/8", "--cluster", "ceph-a", "--json"],
                        environment: ["TETHER_SOCKET": "/nonexistent.sock"])
                    #expect(fence.status == 0, "\(fence.output)")
                    let fenced = tls.agent.log().split(separator: "\n").first { $0.contains("fenced a Ceph client") && $0.contains("10.0.0.8:0/8") }
                    #expect(fenced?.contains("requested_by=\"tls=admin-1,ops.example.org\"") == true, "\(String(describing: fenced))")

                    let info = Self.connectionInfo(lab, image: "volume-t", volume: "vol-t", user: "cinder")
                    let (attached, created) = try await tls.client(admin).attach(CreateAttachmentRequest(connectionInfo: info, force: true))
                    #expect(created)
                    let started = tls.agent.log().split(separator: "\n").first { $0.contains("attach started") && $0.contains("volume=vol-t") }
                    #expect(started?.contains("requested_by=\"tls=admin-1,ops.example.org\"") == true, "\(String(describing: started))")
                    #expect(!tls.agent.log().contains("requested_by=unknown"), "\(tls.agent.log().suffix(3000))")
                    _ = try await tls.client(admin).detach(attached.id)
                }
            }
        }
    }

    @Test func breakLockReadOnlyAndFenceInput() async throws {
        try await Self.withLab { lab in
            let setup = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
            try await setup.createImage(pool: "rbd", image: "volume-b", size: 4 << 20)
            try await Self.withAgent(lab, user: "cinder", key: lab.cinderKey, node: nil) { agent, client in
                // Another client (a VM's librbd, in this process) holds the exclusive lock.
                let other = try await RADOSConnection.connect(clusterName: lab.name, monitors: lab.monitors, user: "cinder", key: lab.cinderKey)
                let otherAddress = try #require(try await other.ownAddresses().first.map(RBDClient.instance))
                let lock = try await other.holdExclusiveLock(pool: "rbd", image: "volume-b")
                let info = Self.connectionInfo(lab, image: "volume-b", volume: "vol-b", user: "cinder")

                // Read-only is never refused: it cannot fight for the lock.
                let (readOnly, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: info, volumeID: "vol-b-ro", readOnly: true))
                #expect(readOnly.details?["lock_owners"]?.arrayValue?.count == 1)
                _ = try await client.detach("vol-b-ro")

                let noForce = await #expect(throws: TetherError.self) {
                    try await client.attach(CreateAttachmentRequest(connectionInfo: info, breakLock: true))
                }
                #expect(noForce?.code == .invalidInput)
                #expect(noForce?.message.hasPrefix("break_lock: needs force") == true)

                let (broken, created) = try await client.attach(CreateAttachmentRequest(connectionInfo: info, force: true, breakLock: true))
                #expect(created)
                // The lock is gone, and librbd blocklisted its owner as it broke it.
                let after = try await setup.inspect(pool: "rbd", image: "volume-b")
                #expect(after.lockOwners.isEmpty, "\(after)")
                #expect(try await setup.blocklist().keys.map(RBDClient.instance).contains(otherAddress))
                #expect(broken.details?["lock_owners"]?.arrayValue?.isEmpty == true)
                #expect(agent.log().contains("breaking the exclusive lock of another client (--break-lock)"))
                _ = try await client.detach("vol-b")
                await lock.release()

                // Bad fence input: refused naming the field, nothing blocklisted.
                let before = try await setup.blocklist()
                let bad: [(FenceRequest, String)] = [
                    (FenceRequest(address: "10.0.0.9"), "address"), (FenceRequest(address: "10.0.0.9:0/x1"), "address"),
                    (FenceRequest(address: "ceph-node:0/42"), "address"), (FenceRequest(address: "10.0.0.9:70000/42"), "address"),
                    (FenceRequest(address: "10.0.0.9:0/42", expireSeconds: 5), "expire_seconds"),
                    (FenceRequest(address: "10.0.0.9:0/42", expireSeconds: 400_000_000), "expire_seconds"),
                    (FenceRequest(address: "10.0.0.9:0/42", user: "no body"), "user"),
                    (FenceRequest(address: "10.0.0.9:0/42", user: "nobody"), "user"),
                ]
                for (request, field) in bad {
                    let error = await #expect(throws: TetherError.self) { try await client.send(.fence(cluster: "ceph-a", request)) }
                    #expect(error?.message.hasPrefix("\(field):") == true, "\(request): \(String(describing: error))")
                    #expect(error?.code == (field == "user" && request.user == "nobody" ? .notFound : .invalidInput))
                }
                let unknown = await #expect(throws: TetherError.self) { try await client.send(.fence(cluster: "ceph-z", FenceRequest(address: "10.0.0.9:0/42"))) }
                #expect(unknown?.code == .notFound)
                #expect(try await setup.blocklist() == before)

                // Fencing is idempotent: again answers already_fenced, one entry.
                let once = try await client.send(.fence(cluster: "ceph-a", FenceRequest(address: "v1:10.0.0.9:0/42", expireSeconds: 120)))
                let twice = try await client.send(.fence(cluster: "ceph-a", FenceRequest(address: "10.0.0.9:0/42")))
                #expect(once.address == "10.0.0.9:0/42" && !once.alreadyFenced && once.until != nil)
                #expect(twice.alreadyFenced && twice.until != nil)
                #expect(try await setup.blocklist().keys.filter { $0 == "10.0.0.9:0/42" }.count == 1)

                // Who asked is tetherd's SO_PEERCRED, never what the request says about itself.
                let body = #"{"address": "10.0.0.7:0/7"}"#
                let spoofed = "POST /v1/clusters/ceph-a/fence HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    + "X-Tether-Peer: uid=4242 gid=4242 pid=1\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                let answer = try RawConnection.exchange(agent.socketPath, Array(spoofed.utf8))
                #expect(answer.response?.status == 200, "\(answer.text)")
                let line = agent.log().split(separator: "\n").first { $0.contains("fenced a Ceph client") && $0.contains("10.0.0.7:0/7") }
                #expect(line?.contains("requested_by=\"uid=\(getuid()) gid=\(getgid()) pid=") == true, "\(String(describing: line))")
                #expect(!agent.log().contains("uid=4242"))
            }
        }
    }
}
