import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Every bad input gets a clear error and leaves the journal, the secrets and tgtd as they were.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd)), .lab(.tgtd), .timeLimit(.minutes(2)))
struct AgentBadInputTests {
    /// Exports vol-bad to the agent's initiator, runs `body`, then checks nothing was left behind.
    static func withExport(
        login: String = "", _ body: (TetherAgentClient, ExportResponse, Tgtd, AgentProcess) async throws -> Void
    ) async throws {
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd, extraISCSI: login) { agent in
                let client = TetherAgentClient(socketPath: agent.socketPath)
                let export = try await AgentISCSITests.export(client, tgtd, volume: "vol-bad", initiator: agent.initiator)
                try await body(client, export, tgtd, agent)
                let health = try await client.health()
                #expect(health.attachments == 0)
                let secrets = (try? FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory + "/secrets")) ?? []
                #expect(secrets.isEmpty)
            }
        }
    }

    static func attachError(_ client: TetherAgentClient, _ info: ConnectionInfo) async -> TetherError? {
        await #expect(throws: TetherError.self) { try await client.attach(CreateAttachmentRequest(connectionInfo: info)) }
    }

    @Test func wrongCHAPPasswordIsAnAuthFailure() async throws {
        try await Self.withExport { client, export, _, _ in
            var info = export.connectionInfo
            info.data["auth_password"] = "not-the-password"
            let error = await Self.attachError(client, info)
            #expect(error?.code == .iscsiAuthFailed)
            #expect(error?.hint != nil)
        }
    }

    @Test func initiatorNotInTheACLIsNotAuthorized() async throws {
        try await Self.withExport { client, _, tgtd, _ in
            // The same volume exported to another node only: this node is not in the ACL.
            let other = try await AgentISCSITests.export(client, tgtd, volume: "vol-other", initiator: "iqn.2026-11.io.tether.test:other")
            let error = await Self.attachError(client, other.connectionInfo)
            #expect(error?.code == .iscsiNotAuthorized)
        }
    }

    @Test func missingLUNIsNotFound() async throws {
        try await Self.withExport { client, export, _, _ in
            var info = export.connectionInfo
            info.data["target_luns"] = [5, 5]
            let error = await Self.attachError(client, info)
            #expect(error?.code == .iscsiLUNNotFound)
        }
    }

    @Test func pathsToDifferentVolumesAreRefused() async throws {
        try await Self.withExport { client, export, tgtd, agent in
            let second = try await AgentISCSITests.export(client, tgtd, volume: "vol-second", initiator: agent.initiator)
            var info = export.connectionInfo
            // Point the second portal at the second volume's target, and let the first volume's
            // CHAP account log in there too, so only the WWIDs differ.
            try tgtd.tgtadm(["--op", "bind", "--mode", "account", "--tid", "2", "--user", info.data["auth_username"]!.stringValue!])
            info.data["target_iqns"] = [.string(export.export.targetIQN), .string(second.export.targetIQN)]
            let error = await Self.attachError(client, info)
            #expect(error?.code == .iscsiWWIDMismatch)
            #expect(error?.message.contains(second.export.wwid) == true)
        }
    }

    @Test func refusedPortalIsUnreachableAtOnce() async throws {
        try await Self.withExport { client, export, _, _ in
            var info = export.connectionInfo
            info.data["target_portals"] = ["127.0.0.9:1", "127.0.0.9:1"]
            let started = ContinuousClock.now
            let error = await Self.attachError(client, info)
            #expect(error?.code == .iscsiUnreachable)
            // Refused at once, not after connect_timeout retries; room for a loaded CI machine.
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }

    @Test func silentPortalTimesOutWithinTheConfiguredBound() async throws {
        // A listener that accepts TCP but never speaks iSCSI: login must give up at login_timeout.
        let listener = try SilentListener()
        defer { listener.close() }
        try await Self.withExport(login: "login_timeout = 2") { client, export, _, _ in
            var info = export.connectionInfo
            info.data["target_portals"] = [.string("127.0.0.1:\(listener.port)")]
            info.data["target_iqns"] = [info.data["target_iqn"]!]
            info.data["target_luns"] = [1]
            let started = ContinuousClock.now
            let error = await Self.attachError(client, info)
            let elapsed = ContinuousClock.now - started
            #expect(error?.code == .timedOut)
            // Without Tether's deadline this login would wait forever. The upper bound leaves room
            // for a loaded 2-core CI machine running the whole suite in parallel, a Cinder lab
            // starting among it (seen: 27 s); it only has to tell "gave up" from "hung".
            #expect(elapsed >= .seconds(2) && elapsed < .seconds(60), "\(elapsed)")
        }
    }

    @Test func malformedRequestsAreInvalidInput() async throws {
        try await Self.withExport { client, _, _, _ in
            for body in ["{bad json", "[]", #"{"connection_info": {"data": {}}}"#, #"{"connection_info": {"driver_volume_type": "iscsi", "data": {"target_lun": 1}}}"#] {
                let response = try await client.http.send(HTTPRequest(method: "POST", target: "/v1/attachments", body: Data(body.utf8)))
                #expect(response.status == 400, "\(body)")
                let error = try JSONDecoder().decode(ErrorBody.self, from: response.body)
                #expect(error.error.code == "invalid_input")
                #expect(!error.error.message.isEmpty)
            }
            let unknown = await Self.attachError(client, ConnectionInfo(driverVolumeType: "fibre_channel", data: ["volume_id": "v"]))
            #expect(unknown?.code == .unsupported)
        }
    }

    @Test func noSecretInLogsCommandLinesOrWideFiles() async throws {
        try await Self.withExport { client, export, tgtd, agent in
            let password = AgentISCSITests.password(export.connectionInfo)
            #expect(password.count >= 16)
            // Every command line on the machine is read while the agent logs in, fails, attaches
            // and detaches: a secret on argv is caught while its program runs.
            let watch = CommandLineWatch(for: [password, "Wrong-Password-123"])
            var wrong = export.connectionInfo
            wrong.data["auth_password"] = "Wrong-Password-123"
            let refused = await Self.attachError(client, wrong)
            #expect(refused?.code == .iscsiAuthFailed)
            let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
            _ = try await client.detach(attachment.id)
            let report = watch.stop()
            #expect(report.offending.isEmpty, "\(report.offending)")
            // The watch really read live command lines: the agent's own among them, many times.
            #expect(report.passes > 1)
            #expect(report.seen[agent.pid]?.contains("--config") == true)

            #expect(!agent.log().contains(password))
            #expect(!agent.log().contains("Wrong-Password-123"))
            #expect(!((try? String(contentsOfFile: tgtd.directory.file("tgtd.log"), encoding: .utf8)) ?? "").contains(password))
            // Files that hold the secret are 0600; nothing under the state dir is readable by others.
            let enumerator = FileManager.default.enumerator(atPath: agent.stateDirectory)
            while let name = enumerator?.nextObject() as? String {
                var info = stat()
                stat(agent.stateDirectory + "/" + name, &info)
                #expect(info.st_mode & 0o077 == 0, "\(name) is \(String(info.st_mode & 0o777, radix: 8))")
            }
            var socketInfo = stat()
            stat(agent.socketPath, &socketInfo)
            #expect(socketInfo.st_mode & 0o777 == 0o660)
        }
    }
}

/// A TCP listener on 127.0.0.1 that accepts (the kernel completes the handshake) but never answers.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socketFD, 16) == 0 else {
            Glibc.close(socketFD)
            throw TetherError(.internalError, "cannot listen")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(socketFD, $0, &length) }
        }
        fd = socketFD
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Glibc.close(fd) }
}
