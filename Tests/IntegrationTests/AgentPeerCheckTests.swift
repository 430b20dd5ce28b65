import Foundation
import TetherClient
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The local API's trust model against a live agent: the socket has the configured group and
/// mode 0660 from the moment it appears, root and the group's members are served, and anybody
/// else is refused. The `tether` CLI runs as other users through setpriv; the test makes its
/// own group and user and removes them.
@Suite(
    // Under CI=true it runs even when not root, and then fails: a skip there would hide that the
    // peer check went untested.
    .tags(.integration), .enabled(if: (Lab.required || getuid() == 0) && Lab.runs(.setpriv, .useradd, .groupadd)),
    .lab(.setpriv, .useradd, .groupadd),
    .timeLimit(.minutes(2)), .serialized)
struct AgentPeerCheckTests {
    static let nobody = "65534"

    struct Identities {
        let group: String
        let gid: UInt32
        /// A user whose database entry lists it in `group` (primary group nogroup).
        let member: String
    }

    /// A temporary group and member, an agent whose `[api] group` is that group, and a socket
    /// directory other users can reach; all removed afterwards.
    static func withAgent(_ body: (AgentProcess, Identities) async throws -> Void) async throws {
        let suffix = String(UInt32.random(in: 0...0xff_ffff), radix: 16)
        let group = "ttg\(suffix)"
        let member = "ttu\(suffix)"
        try run("groupadd", [group])
        defer { try? run("groupdel", [group]) }  // cleanup: a failure here must not hide the test's own
        try run("useradd", ["-M", "-N", "-g", "nogroup", "-G", group, "-d", "/nonexistent", "-s", "/usr/sbin/nologin", member])
        defer { try? run("userdel", [member]) }  // cleanup, as above
        let gid = try #require(UnixGroups.id(ofGroup: group))
        try await TemporaryDirectory.with(prefix: "reg") { registry in
            let config = Lab.cephConfig(registry: registry) + "\n[api]\ngroup = \"\(group)\"\n"
            try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                // Other users must reach the socket through the test's private directory.
                #expect(chmod(agent.directory.path, 0o711) == 0)
                try await body(agent, Identities(group: group, gid: gid, member: member))
            }
        }
    }

    static func run(_ program: String, _ arguments: [String]) throws {
        let (status, output) = try Lab.run(program, arguments)
        guard status == 0 else { throw TetherError(.internalError, "\(program) \(arguments): \(status) \(output)") }
    }

    /// The built `tether` CLI, beside tetherd.
    static var tether: String { (AgentProcess.binary as NSString).deletingLastPathComponent + "/tether" }

    /// `tether health` as another identity (setpriv options); its exit status and output.
    static func health(_ agent: AgentProcess, as identity: [String]) async throws -> (status: Int32, output: String) {
        let arguments = identity + ["--", tether, "health", "--socket", agent.socketPath]
        // Off the cooperative pool: waiting for the child there would stall the other tests.
        return try await Lab.offPool { try Lab.run("setpriv", arguments) }
    }

    @Test func socketHasTheGroupAndMode0660AndNoStagingIsLeft() async throws {
        try await Self.withAgent { agent, ids in
            var info = stat()
            #expect(stat(agent.socketPath, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o660)
            #expect(info.st_gid == ids.gid)
            #expect(info.st_uid == 0)
            #expect(!FileManager.default.fileExists(atPath: agent.directory.file(".t.sock.d")))
            #expect(agent.log().contains("group=\(ids.group)"))
        }
    }

    @Test func socketAppearsWithItsGroupAndModeAlready() async throws {
        let group = "ttg\(String(UInt32.random(in: 0...0xff_ffff), radix: 16))"
        try Self.run("groupadd", [group])
        defer { try? Self.run("groupdel", [group]) }  // cleanup: a failure here must not hide the test's own
        let gid = try #require(UnixGroups.id(ofGroup: group))
        try await TemporaryDirectory.with(prefix: "sok") { directory in
            let socket = directory.file("t.sock")
            let config = """
                socket = "\(socket)"
                state_dir = "\(directory.file("state"))"
                [iscsi]
                initiator = "iqn.2026-11.io.tether.test:node1"
                \(Lab.cephConfig(registry: directory))
                [libvirt]
                uri = ""
                [api]
                group = "\(group)"
                """
            try config.write(toFile: directory.file("tether.toml"), atomically: true, encoding: .utf8)
            // Watch for the socket's first appearance while tetherd starts: its mode and group
            // must be right from that moment (a chmod after bind would leave a window).
            let watcher = Task {
                try await Lab.offPool { () -> stat? in
                    let deadline = ContinuousClock.now + .seconds(30)
                    var info = stat()
                    while ContinuousClock.now < deadline {
                        if lstat(socket, &info) == 0 { return info }
                    }
                    return nil
                }
            }
            let agent = try SpawnedProcess(AgentProcess.binary, ["--config", directory.file("tether.toml")], logPath: directory.file("agent.log"))
            defer {
                kill(agent.pid, SIGTERM)
                _ = agent.wait()
            }
            let first = try #require(try await watcher.value, "the socket never appeared")
            #expect(first.st_mode & 0o777 == 0o660)
            #expect(first.st_gid == gid)
            #expect(first.st_mode & S_IFMT == S_IFSOCK)
        }
    }

    @Test func rootAndTheGroupAreServed() async throws {
        try await Self.withAgent { agent, ids in
            #expect(try await TetherAgentClient(socketPath: agent.socketPath).health().status == "ok")
            // A member by the group database, its primary group elsewhere.
            let member = try await Self.health(agent, as: ["--reuid=\(ids.member)", "--regid=nogroup", "--init-groups"])
            #expect(member.status == 0, "\(member.output)")
            // A user outside the database's group whose effective gid is the group.
            let primary = try await Self.health(agent, as: ["--reuid=\(Self.nobody)", "--regid=\(ids.gid)", "--clear-groups"])
            #expect(primary.status == 0, "\(primary.output)")
            #expect(!agent.log().contains("API connection refused"))
        }
    }

    @Test func peerOutsideTheGroupIsRefusedBeforeTheRequestIsRead() async throws {
        try await Self.withAgent { agent, ids in
            // nobody with the group only as a supplementary group of its process (a session
            // from before it was removed from the group, say): the socket file lets it connect,
            // the peer check refuses it because the group database does not list it.
            let refused = try await Self.health(agent, as: ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--groups=\(ids.gid)"])
            #expect(refused.status == 5, "\(refused.output)")
            #expect(refused.output.contains("without reading the request"), "\(refused.output)")
            #expect(refused.output.contains("group \(ids.group)"), "\(refused.output)")
            let line = try #require(agent.log().split(separator: "\n").first { $0.contains("API connection refused") })
            #expect(line.contains("uid=65534"))
            #expect(line.contains("pid="))
            // One refusal changes nothing for others.
            #expect(try await TetherAgentClient(socketPath: agent.socketPath).health().status == "ok")
        }
    }

    @Test func refusedPeerChangesNothingThatAMemberChanges() async throws {
        try await Self.withAgent { agent, ids in
            // The same cluster registration from a refused peer and from a member: only the
            // member's takes effect, so the refused request was never acted on.
            let keyFile = agent.directory.file("cinder.key")
            try "AQAA8VNlAAAAABAAAAsWISw3Qk1YY255hI+apQ==".write(toFile: keyFile, atomically: true, encoding: .utf8)
            #expect(chmod(keyFile, 0o644) == 0)
            func add(_ name: String) -> [String] {
                [
                    "--", Self.tether, "cluster", "add", "--name", name, "--fsid", UUID().uuidString.lowercased(),
                    "--mon-host", "127.0.0.1:6789", "--user", "cinder=\(keyFile)", "--socket", agent.socketPath,
                ]
            }
            let refusedIdentity = ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--groups=\(ids.gid)"]
            let refusedArguments = refusedIdentity + add("ceph-refused")
            let refused = try await Lab.offPool { try Lab.run("setpriv", refusedArguments) }
            #expect(refused.status == 5, "\(refused.output)")
            let memberIdentity = ["--reuid=\(ids.member)", "--regid=nogroup", "--init-groups"]
            let memberArguments = memberIdentity + add("ceph-member")
            let member = try await Lab.offPool { try Lab.run("setpriv", memberArguments) }
            #expect(member.status == 0, "\(member.output)")
            let clusters = try await TetherAgentClient(socketPath: agent.socketPath).send(.clusters)
            #expect(clusters.clusters.map(\.name) == ["ceph-member"])
        }
    }

    @Test func userWithoutTheGroupCannotOpenTheSocket() async throws {
        try await Self.withAgent { agent, ids in
            let outsider = try await Self.health(agent, as: ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups"])
            #expect(outsider.status == 7, "\(outsider.output)")
            #expect(outsider.output.contains("Permission denied"), "\(outsider.output)")
            #expect(outsider.output.contains(ids.group), "\(outsider.output)")
        }
    }
}
