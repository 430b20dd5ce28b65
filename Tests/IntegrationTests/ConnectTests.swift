import Foundation
import TetherAPI
@testable import TetherAgent
import TetherClient
import TetherCore
import TetherTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `tether connect` across two nodes (ConnectLab: two namespaces joined by a veth): the compute
/// node's tetherd asks the storage node's tetherd over mutual TLS to export an iSCSI volume,
/// attaches it in network mode, and qemu-io on the compute node reads through Tether's QEMU JSON
/// what was written on the storage node. Then the faults: the link cut, compute's tetherd
/// killed, and storage's tetherd killed, in the middle of a connect.
@Suite(
    .tags(.integration), .enabled(if: (Lab.required || getuid() == 0) && Lab.runs(.openssl, .ip, .tgtd, .qemuIO)), .lab(.openssl, .ip, .tgtd, .qemuIO),
    .timeLimit(.minutes(2)))
struct ConnectTests {
    @Test func connectReadWithQEMUDisconnectLeavesNothing() async throws {
        try await ConnectLab.with { lab in
            try lab.writePattern(0x5a, offset: 1 << 20, count: 65536)

            let connected = try await lab.tether(lab.connectArguments() + ["--json"])
            #expect(connected.status == 0, "\(connected.output)")
            let body = try JSONDecoder().decode(ConnectionBody.self, from: Data(connected.output.utf8))
            #expect(body.state == "attached" && body.export == "created" && body.storage == lab.url)
            let attachment = try #require(body.attachment)
            #expect(attachment.mode == .network && attachment.sizeBytes == 16 << 20)

            // The storage node exported it to the compute node's initiator, and only that.
            let exports = try await lab.storageClient.exports()
            #expect(exports.map(\.initiators) == [[lab.compute.initiator]], "\(exports)")

            // qemu-io on the compute node, through the QEMU JSON of the answer.
            let read = try QEMU.io(attachment, command: "read -P 0x5a 1M 64k", launcher: lab.nodes.launcher(.compute))
            #expect(read.contains("read 65536/65536 bytes at offset 1048576"), "\(read)")
            let mismatch = try QEMU.io(attachment, command: "read -P 0x5a 0 512", launcher: lab.nodes.launcher(.compute))
            #expect(mismatch.contains("Pattern verification failed"), "\(mismatch)")

            // Idempotent: the same connect again answers the connection, 200.
            let request = ConnectRequest(storage: lab.url, volume: .init(id: "vol-c", path: lab.backing))
            let (again, created) = try await lab.computeClient.connect(request)
            #expect(!created && again.attachment?.id == attachment.id)
            // Another description of a connected volume is refused naming the field, changing nothing.
            let other = await #expect(throws: TetherError.self) {
                try await lab.computeClient.connect(ConnectRequest(storage: lab.url, volume: .init(id: "vol-c", path: lab.tgtd.directory.file("other.img"))))
            }
            #expect(other?.code == .invalidInput && other?.message.hasPrefix("volume:") == true, "\(String(describing: other))")
            #expect(try await lab.storageClient.exports().count == 1)

            let disconnected = try await lab.tether(["disconnect", "vol-c"])
            #expect(disconnected.status == 0 && disconnected.output.contains("disconnected volume vol-c"), "\(disconnected.output)")
            try await lab.expectNothingLeft("after disconnect")
            let repeated = try await lab.tether(["disconnect", "vol-c"])
            #expect(repeated.status == 0 && repeated.output.contains("was not connected"), "\(repeated.output)")
            // No secret crossed into the compute node's log.
            #expect(!lab.compute.log().lowercased().contains("auth_password\":\""), "compute log holds a CHAP password")
        }
    }

    @Test func badInputIsRefusedNamingTheFieldAndChangesNothing() async throws {
        try await ConnectLab.with { lab in
            for (arguments, field) in [
                (["connect", "--storage", "http://\(lab.nodes.storageAddress):8443", "vol-c", "--path", lab.backing], "--storage"),
                (["connect", "--storage", lab.url, "vol c", "--path", lab.backing], "VOLUME"),
                (["connect", "--storage", lab.url, "vol-c", "--path", "relative.img"], "volume.path"),
            ] {
                let result = try await lab.tether(arguments)
                #expect(result.status == 2 && result.output.contains(field), "\(arguments): \(result.output)")
            }
            // Outside the storage node's backing directories: its agent refuses; nothing is left.
            let refused = try await lab.tether(["connect", "--storage", lab.url, "vol-c", "--path", "/etc/passwd"])
            #expect(refused.status == 2 && refused.output.contains("refused the export"), "\(refused.output)")
            try await lab.expectNothingLeft("after refused connects")
        }
    }

    /// The veth goes down at `connect.exported` (the export made, nothing attached yet): the
    /// attach and then the undo fail within their timeouts, the record stays `rolling_back`, and
    /// once the link is back tetherd's retry revokes the export.
    @Test func linkDownMidConnectLeavesNoExportOnceTheLinkIsBack() async throws {
        try await ConnectLab.with(failpoints: "connect.exported=pause") { lab in
            let started = ContinuousClock.now
            async let connecting = lab.tether(lab.connectArguments())
            try await waitForLog(lab.compute, "failpoint reached: pausing")
            try lab.nodes.setLink(up: false)
            let result = try await connecting
            let elapsed = ContinuousClock.now - started
            #expect(result.status != 0, "\(result.output)")
            // A hang guard, not a speed claim: the agent's own limits answer it (the 15 s pause,
            // 2 s iSCSI logins, 3 s storage calls); 85 s was once seen with five builds beside it.
            #expect(elapsed < .seconds(150), "connect took \(elapsed) with the link down")
            #expect(result.output.contains("tetherd retries it"), "\(result.output)")

            // While the link is down, the export is still there and the journal says what to undo.
            #expect(try await lab.storageClient.exports().count == 1)
            let pending = try await lab.computeClient.connections()
            #expect(pending.map(\.state) == ["rolling_back"] && pending.first?.pendingError != nil, "\(pending)")

            try lab.nodes.setLink(up: true)
            try await lab.waitUntilUndone()
            try await lab.expectNothingLeft("after the link came back")
        }
    }

    /// Every connect failpoint, compute's tetherd killed there and restarted unarmed: a connect
    /// cut before its attachment is journaled is undone on both nodes; one journaled attached
    /// stays (and disconnects cleanly); a disconnect cut after the detach is finished.
    static let crashPoints: [(Failpoint, present: Bool)] = [
        (.connectJournaled, false), (.connectExported, false), (.connectAttached, true), (.disconnectDetached, false),
    ]

    @Test(arguments: crashPoints.map(\.0))
    func computeAgentKilledMidConnect(_ point: Failpoint) async throws {
        let present = Self.crashPoints.first { $0.0 == point }!.present
        try await ConnectLab.with(failpoints: "\(point.rawValue)=crash") { lab in
            if point == .disconnectDetached {
                // Connect with the failpoint unreached, then the disconnect reaches it.
                let connected = try await lab.tether(lab.connectArguments())
                #expect(connected.status == 0, "\(connected.output)")
                let cut = try await lab.tether(["disconnect", "vol-c"])
                #expect(cut.status != 0, "\(cut.output)")
            } else {
                let cut = try await lab.tether(lab.connectArguments())
                #expect(cut.status != 0, "\(cut.output)")
            }
            let status = lab.compute.waitForExit()
            #expect(status == 128 + SIGKILL, "tetherd did not die at \(point.rawValue): \(String(describing: status)); \(lab.compute.log().suffix(2000))")
            #expect(lab.compute.log().contains("failpoint reached: crashing"))

            lab.compute.environment = [:]
            try lab.compute.start()
            if present {
                let connections = try await lab.computeClient.connections()
                #expect(connections.map(\.state) == ["attached"], "\(connections)")
                #expect(try await lab.storageClient.exports().map(\.initiators) == [[lab.compute.initiator]])
                let disconnected = try await lab.tether(["disconnect", "vol-c"])
                #expect(disconnected.status == 0, "\(disconnected.output)")
            } else {
                try await lab.waitUntilUndone()
            }
            try await lab.expectNothingLeft("after the restart")
        }
    }

    /// The storage node's tetherd killed mid-connect, at each export failpoint: with the grant
    /// journaled but tgtd not told, and with tgtd told but no answer sent. The connect fails at
    /// once (the TLS connection is cut), compute keeps the undo it owes (`rolling_back`), and
    /// once the storage agent is back (it re-applies its journal to tgtd at start) compute's
    /// retry revokes the grant: no target or ACL in tgtd, no export in either journal.
    @Test(arguments: [Failpoint.exportJournaled, .exportApplied])
    func storageAgentKilledMidConnect(_ point: Failpoint) async throws {
        try await ConnectLab.with(storageFailpoints: "\(point.rawValue)=crash") { lab in
            let started = ContinuousClock.now
            let cut = try await lab.tether(lab.connectArguments())
            let elapsed = ContinuousClock.now - started
            #expect(cut.status != 0, "\(cut.output)")
            // A hang guard, not a performance claim: the client's own limit is 60 s.
            #expect(elapsed < .seconds(50), "connect took \(elapsed) with the storage agent killed")
            #expect(cut.output.contains("tetherd retries it"), "\(cut.output)")
            let status = lab.storage.waitForExit()
            #expect(status == 128 + SIGKILL, "storage tetherd did not die at \(point.rawValue): \(String(describing: status)); \(lab.storage.log().suffix(2000))")
            #expect(lab.storage.log().contains("failpoint reached: crashing"))

            // While it is down: nothing attached here, the undo owed, and (past export.applied)
            // the target really is in tgtd, so the end state below is the undo's doing.
            #expect(try await lab.computeClient.attachments().isEmpty)
            let pending = try await lab.computeClient.connections()
            #expect(pending.map(\.state) == ["rolling_back"] && pending.first?.pendingError != nil, "\(pending)")
            if point == .exportApplied {
                #expect(try lab.tgtd.tgtadm(["--op", "show", "--mode", "target"]).contains(lab.compute.initiator))
            }

            lab.storage.environment = [:]
            try lab.storage.start()
            try await lab.waitUntilUndone()
            try await lab.expectNothingLeft("after the storage agent's restart")
            #expect(lab.compute.log().contains("finished an interrupted connect or disconnect"), "\(lab.compute.log().suffix(3000))")
        }
    }

    func waitForLog(_ agent: AgentProcess, _ text: String) async throws {
        for _ in 0..<300 {
            if agent.log().contains(text) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("tetherd did not log \"\(text)\" within 6 s: \(agent.log().suffix(3000))")
    }
}
