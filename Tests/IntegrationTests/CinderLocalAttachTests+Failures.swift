import Foundation
import TetherAPI
import TetherClient
import TetherCore
import TetherTesting
import Testing

/// Every failure leaves both sides clean: the volume available with no attachment in Cinder,
/// nothing attached and no secret file here.
extension CinderLocalAttachTests {
    /// TetherCinder's code, which this target does not import.
    static let cinderUnreachable = TetherError.Code(rawValue: "cinder.unreachable")

    @Test func badVolumesFailClearlyAndChangeNothing() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await Self.withAgent(lab) { agent, client in
            let unknown = await #expect(throws: TetherError.self) {
                try await client.reply(.localAttach(LocalAttachRequest(volumeID: "0b5e0f4e-0000-4000-8000-00000000dead")))
            }
            #expect(unknown?.code == .notFound)
            #expect(unknown?.message.contains("0b5e0f4e-0000-4000-8000-00000000dead") == true)

            let malformed = try CLIFlowTests.tether(agent, ["local-attach", "../etc"])
            #expect(malformed.status == 2, "\(malformed.output)")

            try lab.resetStatus(volume, to: "error")
            let inError = await #expect(throws: TetherError.self) {
                try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
            }
            #expect(inError?.code == .conflict)
            #expect(inError?.message.contains("status error") == true)
            #expect(try lab.attachments(volume).isEmpty)
            try lab.resetStatus(volume, to: "available")
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    /// A server that does not offer the pinned microversion answers 406; nothing changes.
    @Test func microversionTheServerDoesNotOffer() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await Self.withAgent(lab, microversion: "3.99") { agent, client in
            let error = await #expect(throws: TetherError.self) {
                try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
            }
            #expect(error?.code == .unsupported)
            #expect(error?.message.contains("HTTP 406") == true)
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    /// Cinder exports the volume, then the local attach fails (the node has no key for ceph-b):
    /// the Cinder attachment is deleted again.
    @Test func aLocalFailureRollsBackCinder() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-b")
        defer { lab.deleteVolume(volume) }
        try await Self.withAgent(lab, registerB: false) { agent, client in
            let error = await #expect(throws: TetherError.self) {
                try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
            }
            #expect(error?.code == .notFound, "\(String(describing: error))")
            #expect(error?.message.contains("ceph-b") == true, "\(String(describing: error))")
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    /// cinder-api goes down after the local attach, as Tether completes the attachment: the local
    /// side is undone at once, Cinder's when it is back.
    @Test func cinderDownMidFlow() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await Self.withTappedAgent(lab) { agent, client, tap in
            tap.onRequest { request in
                guard request.contains("os-complete") else { return .forward }
                try? lab.stopAPI()
                return .drop
            }
            defer { try? lab.startAPI() }
            let error = await #expect(throws: TetherError.self) {
                try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
            }
            #expect(error?.code == Self.cinderUnreachable, "\(String(describing: error))")
            #expect(error?.message.contains("tetherd retries it") == true, "\(String(describing: error))")
            // Nothing attached here any more; Cinder's side is pending.
            #expect(try await client.attachments().isEmpty)
            let pending = try await client.reply(.localAttachments).value().localAttachments
            #expect(pending.map(\.state) == ["rolling_back"])
            #expect(pending.first?.pendingError != nil)

            tap.onRequest { _ in .forward }
            try lab.startAPI()
            try await Self.waitUntil("the agent finishes the rollback") {
                try await client.reply(.localAttachments).value().localAttachments.isEmpty
            }
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    /// cinder-api goes down before local-detach tells it: detached here, Cinder told later.
    @Test func cinderDownDuringDetach() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await Self.withAgent(lab) { agent, client in
            _ = try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
            try lab.stopAPI()
            defer { try? lab.startAPI() }
            let error = await #expect(throws: TetherError.self) {
                try await client.reply(.localDetach(volume, force: false))
            }
            #expect(error?.code == Self.cinderUnreachable, "\(String(describing: error))")
            #expect(error?.message.contains("detached here, but Cinder was not told") == true, "\(String(describing: error))")
            #expect(try await client.attachments().isEmpty)
            try lab.startAPI()
            try await Self.waitUntil("the agent tells Cinder") {
                try await client.reply(.localAttachments).value().localAttachments.isEmpty
            }
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    /// tetherd is killed as it completes the attachment (Cinder completes it); restarted, it rolls
    /// back both sides from its journal.
    @Test func agentKilledMidFlow() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        try await Self.withTappedAgent(lab) { agent, client, tap in
            tap.onRequest { request in
                guard request.contains("os-complete") else { return .forward }
                agent.crash()
                return .forward
            }
            let killed = agent.pid
            let cutOff = await #expect(throws: TetherError.self) {
                try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
            }
            // The agent died mid-request: the client got no answer at all.
            #expect(cutOff?.code == .agentUnavailable, "\(String(describing: cutOff))")
            // The tap's thread killed it and is reaping it: the client can see the socket close first.
            try await Self.waitUntil("tetherd \(killed) is gone after SIGKILL", timeout: .seconds(10)) { kill(killed, 0) != 0 }
            tap.onRequest { _ in .forward }
            try await Self.waitUntil("Cinder completes the attachment") { try lab.status(volume) == "in-use" }
            try agent.start()
            try await Self.waitUntil("the restarted agent rolls back") {
                try await client.reply(.localAttachments).value().localAttachments.isEmpty
            }
            #expect(agent.log().contains("rolled back"))
            try await Self.expectClean(lab, volume, client, agent)
        }
    }

    /// Cinder creates this node's attachment but its answer is lost. Another host has an
    /// unfinished, instance-less attachment of the same volume, which looks the same to Cinder's
    /// attachment views: the rollback deletes this node's attachment and leaves the other's.
    @Test func lostCreateRollbackSparesAnotherHostsAttachment() async throws {
        let lab = try await CinderLab.running()
        let volume = try await lab.createVolume(type: "ceph-a")
        defer { lab.deleteVolume(volume) }
        let otherHost = "other-node-\(UUID().uuidString.prefix(8).lowercased())"
        let connector = #"{"host": "\#(otherHost)", "initiator": "iqn.1993-08.org.debian:01:other", "ip": "127.0.0.9", "platform": "x86_64", "os_type": "linux", "multipath": false}"#
        let other = try lab.api("POST", "/attachments", #"{"attachment": {"volume_uuid": "\#(volume)", "connector": \#(connector)}}"#, microversion: "3.54")
        let otherID = try #require(other["attachment"]?["id"]?.stringValue)
        defer { _ = try? lab.api("DELETE", "/attachments/\(otherID)", microversion: "3.54") }
        #expect(try lab.attachments(volume).first?["status"]?.stringValue == "attaching")
        // The other host is still attaching; the volume is made attachable here again.
        try lab.resetStatus(volume, to: "available")

        try await Self.withTappedAgent(lab) { agent, client, tap in
            tap.onRequest { request in
                request.hasPrefix("POST ") && request.contains("/attachments HTTP/") ? .loseAnswer : .forward
            }
            let error = await #expect(throws: TetherError.self) {
                try await client.reply(.localAttach(LocalAttachRequest(volumeID: volume)))
            }
            #expect(error?.code == Self.cinderUnreachable, "\(String(describing: error))")
            tap.onRequest { _ in .forward }

            // Cinder did create this node's attachment: its answer was lost on the way back.
            let lost = try #require(tap.lostAnswers.first)
            let body = try JSONDecoder().decode(JSONValue.self, from: Data((lost.components(separatedBy: "\r\n\r\n").dropFirst().first ?? "").utf8))
            let ourID = try #require(body["attachment"]?["id"]?.stringValue)
            #expect(ourID != otherID)

            let left = try lab.attachments(volume).compactMap { $0["id"]?.stringValue }
            #expect(left == [otherID], "left in Cinder: \(left)")
            #expect(try await client.attachments().isEmpty)
            #expect(try await client.reply(.localAttachments).value().localAttachments.isEmpty)
            #expect(agent.log().contains("local attach rolled back"))
        }
        try lab.api("DELETE", "/attachments/\(otherID)", microversion: "3.54")
        try lab.resetStatus(volume, to: "available")
        #expect(try lab.attachments(volume).isEmpty)
    }

    /// An agent that reaches Cinder through an HTTPTap, so a test can act at an exact request.
    static func withTappedAgent(_ lab: CinderLab, _ body: (AgentProcess, TetherAgentClient, HTTPTap) async throws -> Void) async throws {
        let tap = try HTTPTap(upstreamPort: lab.apiPort)
        defer { tap.stop() }
        let endpoint = lab.url.replacingOccurrences(of: ":\(lab.apiPort)/", with: ":\(tap.port)/")
        try await withAgent(lab, endpoint: endpoint) { agent, client in try await body(agent, client, tap) }
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("timed out waiting until \(what)")
        throw TetherError(.timedOut, "timed out waiting until \(what)")
    }
}
