import Foundation
import Logging
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherFakes
import Testing

@Suite struct AttachmentServiceTests {
    let journal: Journal
    let connector = ScriptedConnector()
    let service: AttachmentService

    init() throws {
        journal = try Journal()
        service = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"))
    }

    static func request(volume: String, iqn: String = "iqn.2026-11.io.tether:x") -> CreateAttachmentRequest {
        CreateAttachmentRequest(connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: [
            "target_portal": "192.0.2.1:3260", "target_iqn": .string(iqn), "target_lun": 1, "volume_id": .string(volume),
            "auth_method": "CHAP", "auth_username": "u", "auth_password": "topsecret",
        ]))
    }

    @Test func attachIsIdempotentForTheSameTarget() async throws {
        let (first, created) = try await service.attach(Self.request(volume: "v1"))
        let (second, createdAgain) = try await service.attach(Self.request(volume: "v1"))
        #expect(created && !createdAgain)
        #expect(first.id == second.id)
        #expect(connector.attachedIDs.count == 1)
    }

    @Test func journalNeverHoldsThePassword() async throws {
        let (record, _) = try await service.attach(Self.request(volume: "v1"))
        let stored = try #require(try await journal.writer.read { try String.fetchOne($0, sql: "SELECT connectionInfo FROM attachment") })
        #expect(!stored.contains("topsecret"))
        #expect(stored.contains("<redacted>"))
    }

    @Test func anotherTargetForAnAttachedVolumeIsAConflict() async throws {
        _ = try await service.attach(Self.request(volume: "v1"))
        let error = await #expect(throws: TetherError.self) { try await service.attach(Self.request(volume: "v1", iqn: "iqn.2026-11.io.tether:other")) }
        #expect(error?.code == .conflict)
    }

    @Test func failedAttachLeavesTheJournalUnchanged() async throws {
        _ = try await service.attach(Self.request(volume: "v0"))
        let before = try await journal.attachments()
        connector.fail(with: TetherError(.iscsiAuthFailed, "CHAP"))
        let error = await #expect(throws: TetherError.self) { try await service.attach(Self.request(volume: "v1")) }
        #expect(error?.code == .iscsiAuthFailed)
        #expect(try await journal.attachments() == before)
        #expect(try await journal.intents().isEmpty)
    }

    @Test(arguments: [
        (ConnectionInfo(driverVolumeType: "nvmeof", data: ["volume_id": "v"]), TetherError.Code.unsupported),
        (ConnectionInfo(driverVolumeType: "iscsi", data: ["target_portal": "a:1", "target_lun": 1]), .invalidInput),
        (ConnectionInfo(driverVolumeType: "iscsi", data: ["target_lun": 1, "volume_id": "v"]), .invalidInput),
    ])
    func badRequestsChangeNothing(info: ConnectionInfo, code: TetherError.Code) async throws {
        let error = await #expect(throws: TetherError.self) { try await service.attach(CreateAttachmentRequest(connectionInfo: info)) }
        #expect(error?.code == code)
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(connector.attachedIDs.isEmpty)
    }

    @Test func concurrentAttachesOfOneVolumeGiveOneAttachment() async throws {
        connector.setDelay(.milliseconds(50))
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<2 { group.addTask { try await service.attach(Self.request(volume: "v1")).0.id } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        #expect(connector.peakConcurrency == 1)
    }

    @Test func differentVolumesAttachInParallel() async throws {
        connector.setDelay(.milliseconds(200))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<16 { group.addTask { _ = try await service.attach(Self.request(volume: "v\(index)")) } }
            try await group.waitForAll()
        }
        #expect(try await journal.attachments().count == 16)
        #expect(connector.peakConcurrency > 8)
    }

    @Test func detachByVolumeOrIDAndAgain() async throws {
        let (record, _) = try await service.attach(Self.request(volume: "v1"))
        #expect(try await service.detach("v1", force: false) == [record.id])
        #expect(try await service.detach("v1", force: false).isEmpty)
        #expect(try await service.detach(record.id, force: false).isEmpty)
        #expect(connector.detachedIDs == [record.id])
        #expect(try await journal.counts() == (0, 0, 0))
    }

    @Test func recoveryRollsBackInterruptedAttaches() async throws {
        let record = AttachmentRecord(
            id: "a1", volumeID: "v1", targetKey: "iscsi:iqn.x:y:1", protocolName: "iscsi", mode: .network, state: .attaching,
            connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: [:]), result: nil, createdAt: Journal.now(), updatedAt: Journal.now())
        try await journal.beginAttach(record)
        try await service.recover()
        #expect(try await journal.counts() == (0, 0, 0))
        #expect(connector.detachedIDs == ["a1"])
    }
}

@Suite struct DiskTargetAssignmentTests {
    let journal: Journal
    let service: AttachmentService

    init() throws {
        journal = try Journal()
        service = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [ScriptedConnector()], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"))
    }

    static func target(_ record: AttachmentRecord) throws -> String? {
        DiskTarget.of(try #require(record.result).diskXML)?.device
    }

    /// Several Tether disks in one domain: each attachment of the node gets its own target, and a
    /// detached one's target is handed out again.
    @Test func attachmentsGetDistinctTargetsAndFreedOnesComeBack() async throws {
        let (first, _) = try await service.attach(AttachmentServiceTests.request(volume: "v1"))
        let (second, _) = try await service.attach(AttachmentServiceTests.request(volume: "v2"))
        #expect(try Self.target(first) == "vdb")
        #expect(try Self.target(second) == "vdc")
        _ = try await service.detach("v1", force: false)
        let (third, _) = try await service.attach(AttachmentServiceTests.request(volume: "v3"))
        #expect(try Self.target(third) == "vdb")
    }

    /// Attaches of different volumes run in parallel: no two may get the same target.
    @Test func parallelAttachesNeverShareATarget() async throws {
        let targets = try await withThrowingTaskGroup(of: String?.self) { group in
            for n in 0..<12 {
                group.addTask { try Self.target(try await service.attach(AttachmentServiceTests.request(volume: "p\(n)")).0) }
            }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(Set(targets.compactMap { $0 }).count == 12)
    }
}
