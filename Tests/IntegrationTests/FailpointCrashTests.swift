import Foundation
import TetherAPI
@testable import TetherAgent
import TetherClient
import TetherCore
import TetherLinux
import TetherTesting
import Testing

/// tetherd killed at every failpoint in turn (`TETHER_FAILPOINTS=NAME=crash`), restarted unarmed:
/// each operation converges to fully done or fully undone, and nothing is left behind — no journal
/// intent, no secret file, no stray tgt target or ACL entry, no Cinder attachment or reservation.
/// Each scenario has its own agent (its state directory kept across the restarts) and tgtd or
/// Cinder volume; the Cinder ones (`CinderLocalAttachTests.CrashAtFailpoints`) share the lab.
@Suite(.tags(.integration), .enabled(if: Lab.runs(.tgtd, .qemuIO)), .lab(.tgtd, .qemuIO), .timeLimit(.minutes(2)))
struct FailpointCrashTests {
    /// Where an operation cut at the failpoint must end after the restart.
    enum Outcome: String, Sendable { case present, absent }

    enum Operation: String, Sendable { case export, unexport, revoke, attach, detach, localAttach, localDetach }

    struct Scenario: Sendable, CustomStringConvertible, CustomTestStringConvertible {
        /// The failpoint that crashes tetherd.
        let point: Failpoint
        let operation: Operation
        let expected: Outcome
        /// Armed besides, as `error`: to reach a point that only a failure leads to.
        var failing: Failpoint?
        /// Cinder's legacy flow (reserve, initialize_connection, os-attach; microversion 3.27).
        var legacy = false

        var armed: String {
            ([failing.map { "\($0.rawValue)=error" }].compactMap { $0 } + ["\(point.rawValue)=crash"]).joined(separator: ",")
        }
        var description: String { armed + (legacy ? " (legacy flow)" : "") }
        var testDescription: String { description }
    }

    /// Every failpoint, with the operation that reaches it and where that must end. An attach
    /// cut before its result is journaled is rolled back; anything journaled as done or as
    /// going away is completed.
    static let scenarios = iscsiScenarios + cinderScenarios

    /// Against tgtd: exports, and network-mode iSCSI attaches.
    static let iscsiScenarios: [Scenario] = [
        Scenario(point: .exportJournaled, operation: .export, expected: .present),
        Scenario(point: .exportApplied, operation: .export, expected: .present),
        Scenario(point: .unexportJournaled, operation: .unexport, expected: .absent),
        Scenario(point: .unexportRemoved, operation: .unexport, expected: .absent),
        Scenario(point: .revokeJournaled, operation: .revoke, expected: .absent),
        Scenario(point: .attachJournaled, operation: .attach, expected: .absent),
        Scenario(point: .attachConnected, operation: .attach, expected: .absent),
        Scenario(point: .attachRecorded, operation: .attach, expected: .present),
        Scenario(point: .detachJournaled, operation: .detach, expected: .absent),
        Scenario(point: .detachDisconnected, operation: .detach, expected: .absent),
    ]

    /// Against the Cinder lab (RBD volumes, network mode).
    static let cinderScenarios: [Scenario] = [
        Scenario(point: .localAttachCreating, operation: .localAttach, expected: .absent),
        Scenario(point: .localAttachCinderReserved, operation: .localAttach, expected: .absent),
        Scenario(point: .localAttachCreated, operation: .localAttach, expected: .absent),
        Scenario(point: .localAttachConnected, operation: .localAttach, expected: .absent),
        Scenario(point: .localAttachCinderCompleted, operation: .localAttach, expected: .absent),
        Scenario(point: .localAttachAttached, operation: .localAttach, expected: .present),
        // A roll-back is reached through a failure: after the local attach, and after Cinder
        // created its attachment but before its id was journaled.
        Scenario(point: .localAttachRollingBack, operation: .localAttach, expected: .absent, failing: .localAttachConnected),
        Scenario(point: .localAttachRollingBack, operation: .localAttach, expected: .absent, failing: .localAttachCinderReserved),
        Scenario(point: .localDetachDetaching, operation: .localDetach, expected: .absent),
        Scenario(point: .localDetachDetached, operation: .localDetach, expected: .absent),
        Scenario(point: .localDetachCinderReleased, operation: .localDetach, expected: .absent),
        // The legacy flow's own steps: its reserve, and what it tells Cinder on the way back.
        Scenario(point: .localAttachCinderReserved, operation: .localAttach, expected: .absent, legacy: true),
        Scenario(point: .localAttachCreated, operation: .localAttach, expected: .absent, legacy: true),
        Scenario(point: .localAttachCinderCompleted, operation: .localAttach, expected: .absent, legacy: true),
        Scenario(point: .localDetachDetached, operation: .localDetach, expected: .absent, legacy: true),
    ]

    static let exportVolume = "vol-fp"
    static let otherInitiator = "iqn.2026-11.io.tether.test:other"

    @Test(arguments: iscsiScenarios) func crashAndRestart(_ scenario: Scenario) async throws {
        let began = ContinuousClock.now
        try await Tgtd.with { tgtd in
            try await AgentProcess.with(tgtd: tgtd) { agent in
                try await Context(agent: agent, tgtd: tgtd).check(scenario)
            }
        }
        print("failpoint \(scenario): \(ContinuousClock.now - began)")
    }

    /// One agent and its peers, and the steps of a scenario.
    // Unchecked: only the test's own task uses it, one scenario after another.
    final class Context: @unchecked Sendable {
        let agent: AgentProcess
        let tgtd: Tgtd?
        let lab: CinderLab?
        let cinderVolume: String
        let client: TetherAgentClient
        private var logMark = 0

        init(agent: AgentProcess, tgtd: Tgtd? = nil, lab: CinderLab? = nil, cinderVolume: String = "") {
            self.agent = agent
            self.tgtd = tgtd
            self.lab = lab
            self.cinderVolume = cinderVolume
            client = TetherAgentClient(socketPath: agent.socketPath)
        }

        var target: Tgtd { get throws { try #require(tgtd, "this scenario needs tgtd") } }
        var cinder: CinderLab { get throws { try #require(lab, "this scenario needs the Cinder lab") } }

        /// Runs `scenario` and checks it reached its failpoint; on a failure, the agent's log.
        func check(_ scenario: Scenario) async throws {
            do {
                #expect(try await run(scenario), "\(scenario): not exercised")
            } catch {
                Issue.record("\(scenario): \(error)\n\(logSinceStart().suffix(3000))")
            }
        }

        func logSinceStart() -> String {
            String(agent.log().utf8.dropFirst(logMark)) ?? ""
        }

        /// Runs one scenario; true when the failpoint was reached and killed tetherd.
        func run(_ scenario: Scenario) async throws -> Bool {
            agent.stop()
            agent.environment = [Failpoints.variable: scenario.armed]
            logMark = agent.log().utf8.count
            try agent.start()
            #expect(logSinceStart().contains("failpoints armed"), "\(scenario): no start-up warning")

            try await prepare(scenario.operation)
            let outcome: Result<Void, any Error>
            do { outcome = .success(try await operate(scenario.operation)) } catch { outcome = .failure(error) }
            switch outcome {
            case .failure(let error as TetherError) where error.code == .agentUnavailable: break
            case let other: Issue.record("\(scenario): the operation ended with \(other), not with the agent gone")
            }
            let status = agent.waitForExit()
            #expect(status == 128 + SIGKILL, "\(scenario): tetherd ended with \(status.map(String.init) ?? "nothing: still running")")
            let log = logSinceStart()
            let reached = log.split(separator: "\n").contains { $0.contains("failpoint reached: crashing") && $0.contains("failpoint=\(scenario.point.rawValue)") }
            #expect(reached, "\(scenario): the log does not say the failpoint was reached")
            if status == nil { agent.stop() }

            agent.environment = [:]
            try agent.start()
            try await converge(scenario)
            try await cleanUp()
            return reached && status == 128 + SIGKILL
        }

        // MARK: - Operations

        func exportRequest(initiator: String) throws -> CreateExportRequest {
            CreateExportRequest(
                volume: .init(id: FailpointCrashTests.exportVolume, path: try target.directory.file("\(FailpointCrashTests.exportVolume).img"), sizeBytes: 16 << 20),
                connector: ConnectorProperties(initiator: initiator))
        }

        /// What must exist before the operation: nothing armed is reached here.
        func prepare(_ operation: Operation) async throws {
            switch operation {
            case .export, .localAttach:
                break
            case .unexport, .attach:
                _ = try await client.createExport(try exportRequest(initiator: agent.initiator))
            case .revoke:
                _ = try await client.createExport(try exportRequest(initiator: agent.initiator))
                _ = try await client.createExport(try exportRequest(initiator: FailpointCrashTests.otherInitiator))
            case .detach:
                let export = try await client.createExport(try exportRequest(initiator: agent.initiator)).export
                _ = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
            case .localDetach:
                _ = try await client.reply(.localAttach(LocalAttachRequest(volumeID: cinderVolume, mode: .network))).value()
            }
        }

        func operate(_ operation: Operation) async throws {
            switch operation {
            case .export:
                _ = try await client.createExport(try exportRequest(initiator: agent.initiator))
            case .unexport:
                _ = try await client.deleteExport(volumeID: FailpointCrashTests.exportVolume)
            case .revoke:
                _ = try await client.deleteExport(volumeID: FailpointCrashTests.exportVolume, initiator: FailpointCrashTests.otherInitiator)
            case .attach:
                let export = try await client.createExport(try exportRequest(initiator: agent.initiator)).export
                _ = try await client.attach(CreateAttachmentRequest(connectionInfo: export.connectionInfo))
            case .detach:
                _ = try await client.detach(FailpointCrashTests.exportVolume)
            case .localAttach:
                _ = try await client.reply(.localAttach(LocalAttachRequest(volumeID: cinderVolume, mode: .network))).value()
            case .localDetach:
                _ = try await client.reply(.localDetach(cinderVolume, force: false)).value()
            }
        }

        // MARK: - Convergence

        /// After the restart: the cut operation is done or undone, as `scenario` expects, and
        /// what is there works.
        func converge(_ scenario: Scenario) async throws {
            switch scenario.operation {
            case .export, .unexport:
                let exports = try await client.exports()
                let targets = try target.tgtadm(["--op", "show", "--mode", "target"])
                if scenario.expected == .present {
                    #expect(exports.map(\.volumeID) == [FailpointCrashTests.exportVolume], "\(scenario)")
                    #expect(targets.contains(exports.first?.targetIQN ?? "-") && targets.contains(agent.initiator), "\(scenario): \(targets)")
                    // Usable: the same export again (its credentials from the journal) attaches and reads.
                    try await attachAndRead(scenario)
                } else {
                    #expect(exports.isEmpty, "\(scenario)")
                    #expect(targets.isEmpty, "\(scenario): \(targets)")
                }
            case .revoke:
                let exports = try await client.exports()
                let targets = try target.tgtadm(["--op", "show", "--mode", "target"])
                #expect(exports.first?.initiators == [agent.initiator], "\(scenario)")
                #expect(targets.contains(agent.initiator) && !targets.contains(FailpointCrashTests.otherInitiator), "\(scenario): \(targets)")
                #expect(!targets.contains(ExportService.chapUser(volume: FailpointCrashTests.exportVolume, initiator: FailpointCrashTests.otherInitiator)))
                try await attachAndRead(scenario)
            case .attach, .detach:
                let attachments = try await client.attachments()
                if scenario.expected == .present {
                    let attachment = try #require(attachments.first, "\(scenario): nothing attached")
                    #expect(attachments.count == 1 && attachment.state == "attached", "\(scenario)")
                    let read = try QEMU.io(attachment, command: "read 0 4096")
                    #expect(read.contains("read 4096/4096 bytes"), "\(scenario): \(read)")
                } else {
                    #expect(attachments.isEmpty, "\(scenario): \(attachments.map(\.state))")
                    let secrets = try secretFiles()
                    #expect(secrets.isEmpty, "\(scenario): \(secrets)")
                }
            case .localAttach, .localDetach:
                // Cinder's side is finished in the background after the start: wait for it.
                let local = try await settledLocalAttachments()
                #expect(local.allSatisfy { $0.flow == (scenario.legacy ? "legacy" : "attachments") }, "\(scenario)")
                if scenario.expected == .present {
                    #expect(local.map(\.state) == ["attached"], "\(scenario)")
                    #expect(local.first?.attachment?.state == "attached", "\(scenario)")
                    #expect(try cinder.status(cinderVolume) == "in-use", "\(scenario)")
                    let inCinder = try cinder.attachments(cinderVolume)
                    #expect(inCinder.count == 1 && inCinder.first?["status"]?.stringValue == "attached", "\(scenario): \(inCinder)")
                    #expect(inCinder.first?["id"]?.stringValue == local.first?.cinderAttachmentID)
                } else {
                    #expect(local.isEmpty, "\(scenario): \(local.map(\.state))")
                    try await expectCinderClean(scenario)
                    #expect(try await client.attachments().isEmpty, "\(scenario)")
                    let secrets = try secretFiles()
                    #expect(secrets.isEmpty, "\(scenario): \(secrets)")
                }
            }
            try await expectSettledJournal(scenario)
        }

        /// The export's connection_info again (idempotent), attached, read with qemu-io, detached.
        func attachAndRead(_ scenario: Scenario) async throws {
            let export = try await client.createExport(try exportRequest(initiator: agent.initiator))
            #expect(!export.created, "\(scenario): the export was made again")
            let (attachment, _) = try await client.attach(CreateAttachmentRequest(connectionInfo: export.export.connectionInfo))
            let read = try QEMU.io(attachment, command: "read 0 4096")
            #expect(read.contains("read 4096/4096 bytes"), "\(scenario): \(read)")
            _ = try await client.detach(attachment.id)
        }

        /// Local attachments once none is half done (the retries run every second).
        func settledLocalAttachments() async throws -> [LocalAttachmentBody] {
            let deadline = ContinuousClock.now + .seconds(60)
            while true {
                let local = try await client.reply(.localAttachments).value().localAttachments
                if local.allSatisfy({ $0.state == "attached" }) || ContinuousClock.now > deadline { return local }
                try await Task.sleep(for: .milliseconds(200))
            }
        }

        func expectCinderClean(_ scenario: Scenario) async throws {
            #expect(try cinder.status(cinderVolume) == "available", "\(scenario)")
            let inCinder = try cinder.attachments(cinderVolume)
            #expect(inCinder.isEmpty, "\(scenario): Cinder keeps \(inCinder)")
        }

        /// No intent, no attachment or local attachment but a finished one.
        func expectSettledJournal(_ scenario: Scenario) async throws {
            let journal = try await Journal.open(directory: agent.stateDirectory, host: LinuxHost())
            let intents = try await journal.intents()
            #expect(intents.isEmpty, "\(scenario): intents \(intents)")
            let attachments = try await journal.attachments().map(\.state)
            #expect(attachments.allSatisfy { $0 == AttachmentRecord.State.attached }, "\(scenario): \(attachments)")
            let local = try await journal.cinderAttachments().map(\.state)
            #expect(local.allSatisfy { $0 == CinderAttachmentRecord.State.attached }, "\(scenario): \(local)")
        }

        func secretFiles() throws -> [String] {
            (try? FileManager.default.contentsOfDirectory(atPath: agent.stateDirectory + "/secrets")) ?? []
        }

        /// Everything undone through the API, then checked gone everywhere: the agent stopped,
        /// its journal empty.
        func cleanUp() async throws {
            if !UnixSocket.answers(agent.socketPath) {
                agent.stop()
                agent.environment = [:]
                try agent.start()
            }
            _ = try await settledLocalAttachments()
            for local in try await client.reply(.localAttachments).value().localAttachments {
                _ = try await client.reply(.localDetach(local.volumeID, force: false)).value()
            }
            for attachment in try await client.attachments() {
                _ = try await client.detach(attachment.id)
            }
            for export in try await client.exports() {
                _ = try await client.deleteExport(volumeID: export.volumeID)
            }
            if let tgtd {
                #expect(try tgtd.tgtadm(["--op", "show", "--mode", "target"]).isEmpty)
            }
            let secrets = try secretFiles()
            #expect(secrets.isEmpty, "\(secrets)")
            if let lab {
                let leftInCinder = try lab.attachments(cinderVolume)
                #expect(leftInCinder.isEmpty, "Cinder keeps \(leftInCinder)")
                // So that the volume can be deleted: a leak found here is recorded above.
                for id in leftInCinder.compactMap({ $0["id"]?.stringValue }) {
                    _ = try? lab.api("DELETE", "/attachments/\(id)")
                }
                let status = try lab.status(cinderVolume)
                if status != "available" {
                    Issue.record("the Cinder volume is \(status) after the clean-up")
                    try lab.resetStatus(cinderVolume, to: "available")
                }
            }
            #expect(agent.stop() == 0)
            let journal = try await Journal.open(directory: agent.stateDirectory, host: LinuxHost())
            #expect(try await journal.counts() == (0, 0, 0))
            #expect(try await journal.cinderAttachments().isEmpty)
        }
    }
}

/// Every failpoint has a scenario: a new one without fails here. (Each scenario checks that
/// its failpoint was reached and killed tetherd.)
@Suite(.tags(.integration)) struct FailpointCoverageTests {
    @Test func everyFailpointHasACrashScenario() {
        let covered = Set(FailpointCrashTests.scenarios.map(\.point)).union(ConnectTests.crashPoints.map(\.0))
        #expect(covered == Set(Failpoint.allCases), "no scenario: \(Set(Failpoint.allCases).subtracting(covered).map(\.rawValue).sorted())")
    }
}

// Inside CinderLocalAttachTests, whose traits name the Cinder lab's peers and serialize its
// children: the lab is shared, and its other tests take cinder-api down.
extension CinderLocalAttachTests {
    /// FailpointCrashTests' scenarios of local-attach and local-detach, one Cinder volume and one
    /// agent each.
    @Suite struct CrashAtFailpoints {
        @Test(arguments: FailpointCrashTests.cinderScenarios) func crashAndRestart(_ scenario: FailpointCrashTests.Scenario) async throws {
            let began = ContinuousClock.now
            let lab = try await CinderLab.running()
            let volume = try await lab.createVolume(type: "ceph-a")
            defer { lab.deleteVolume(volume) }
            try await TemporaryDirectory.with(prefix: "reg") { registry in
                try await AgentRBDTests.register(lab.cephA, in: registry.path)
                let config = Lab.cephConfig(registry: registry) + "\n" + lab.agentConfig(microversion: scenario.legacy ? "3.27" : nil)
                try await AgentProcess.with(tgtd: nil, extraConfig: config) { agent in
                    try await FailpointCrashTests.Context(agent: agent, lab: lab, cinderVolume: volume).check(scenario)
                }
            }
            print("failpoint \(scenario): \(ContinuousClock.now - began)")
        }
    }
}
