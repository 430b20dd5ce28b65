import Foundation
import Logging
import Synchronization
import TetherAPI
@testable import TetherAgent
import TetherCore
import Testing

/// A network connector whose host state is a set of secret files, one per attachment; the first
/// look for orphans can let an attach begin (journal, then file) between the journal read and
/// the look, as a real attach in flight can.
final class SecretFileConnector: Connector, Sendable {
    let driverVolumeTypes: Set<String> = ["iscsi"]
    let mode: AttachMode = .network
    let files = Mutex<Set<String>>([])
    let removed = Mutex<[String]>([])
    let beforeFirstLook = Mutex<(@Sendable () async throws -> Void)?>(nil)

    func attach(_ request: AttachRequest) async throws -> AttachedVolume {
        throw TetherError(.unsupported, "not in this test")
    }

    func detach(_ volume: AttachedVolume, attachmentID: String, force: Bool) async throws {}

    func secretFiles(forAttachment attachmentID: String) -> [String] { ["/s/\(attachmentID).chap"] }

    func orphans(known: [AttachedVolume]) async throws -> [Orphan] {
        if let hook = beforeFirstLook.withLock({ hook in defer { hook = nil }; return hook }) { try await hook() }
        let named = Set(known.flatMap(\.secretFiles))
        return files.withLock { $0 }.subtracting(named).sorted().map { Orphan(kind: .secretFile, name: $0, detail: "") }
    }

    func remove(_ orphan: Orphan) async throws {
        removed.withLock { $0.append(orphan.name) }
        _ = files.withLock { $0.remove(orphan.name) }
    }
}

@Suite struct ReconcilerOrphanTests {
    @Test func anAttachThatBeginsDuringTheLookIsNoOrphan() async throws {
        let journal = try Journal()
        let connector = SecretFileConnector()
        let service = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"))
        connector.files.withLock { $0 = ["/s/att-old.chap"] }
        connector.beforeFirstLook.withLock {
            $0 = {
                let now = Journal.now()
                try await journal.beginAttach(
                    AttachmentRecord(
                        id: "att-late", volumeID: "v-late", targetKey: "t", protocolName: "iscsi", mode: .network, state: .attaching,
                        connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: [:]), result: nil, createdAt: now, updatedAt: now))
                _ = connector.files.withLock { $0.insert("/s/att-late.chap") }
            }
        }
        let reconciler = Reconciler(attachments: service, interval: nil, heal: false, logger: Logger(label: "test"))
        let report = try await reconciler.reconcile(heal: false, clean: true)
        #expect(report.orphans.map(\.orphan.name) == ["/s/att-old.chap"])
        #expect(connector.removed.withLock { $0 } == ["/s/att-old.chap"])
        #expect(connector.files.withLock { $0 } == ["/s/att-late.chap"])
    }
}
