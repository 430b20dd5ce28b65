import Foundation
import Logging
import Synchronization
import TetherAPI
import TetherClient
import TetherCore
import TetherFakes
import Testing

@testable import TetherAgent

/// ConnectService against a scripted storage agent (its answers to `POST /v1/exports` and
/// `DELETE /v1/exports/...`) and a scripted connector: what is journaled, what is revoked there.
@Suite struct ConnectServiceTests {
    /// A storage agent that answers exports, refuses them, or cannot be reached.
    final class StorageAgent: AgentTransport, Sendable {
        /// `exportThenCut`: answers the export, then is unreachable (the link lost right after).
        enum Behaviour: Sendable { case serve, refuse, unreachable, exportThenCut }
        let timeout: Duration = .seconds(5)
        private let state = Mutex((behaviour: Behaviour.serve, requests: [String]()))

        func set(_ behaviour: Behaviour) { state.withLock { $0.behaviour = behaviour } }
        var requests: [String] { state.withLock { $0.requests } }

        func send(_ request: HTTPRequest) async throws -> HTTPResponse {
            let behaviour = state.withLock {
                $0.requests.append("\(request.method) \(request.target)")
                let now = $0.behaviour
                if now == .exportThenCut { $0.behaviour = .unreachable }
                return now == .exportThenCut ? .serve : now
            }
            switch behaviour {
            case .unreachable:
                throw TetherError(.agentUnavailable, "cannot reach tetherd at https://storage-1:8443: connection refused")
            case .refuse:
                return Self.json(400, #"{"error": {"code": "invalid_input", "message": "volume.path: outside [target] backing_dirs", "hint": "h"}}"#)
            case .serve where request.method == "POST":
                let info = #"{"driver_volume_type": "iscsi", "data": {"target_portal": "192.0.2.1:3260", "target_iqn": "iqn.2026-11.io.tether:vol-1", "target_lun": 1, "volume_id": "vol-1", "auth_method": "CHAP", "auth_username": "u", "auth_password": "topsecret"}}"#
                let export = #"{"protocol": "iscsi", "volume_id": "vol-1", "path": "/srv/vol-1", "target_iqn": "iqn.2026-11.io.tether:vol-1", "lun": 1, "portals": ["192.0.2.1:3260"], "initiators": ["iqn.test:compute"], "wwid": "360000"}"#
                return Self.json(201, #"{"connection_info": \#(info), "export": \#(export)}"#)
            case .serve, .exportThenCut:
                return Self.json(200, #"{"volume_id": "vol-1", "initiators_removed": ["iqn.test:compute"], "target_removed": true}"#)
            }
        }

        static func json(_ status: Int, _ text: String) -> HTTPResponse {
            HTTPResponse(status: status, headers: [.init(name: "Content-Type", value: "application/json")], body: Data(text.utf8))
        }
    }

    let journal: Journal
    let connector = ScriptedConnector()
    let storage = StorageAgent()
    let service: ConnectService

    init() throws {
        journal = try Journal()
        let node = ConnectorProperties(initiator: "iqn.test:compute")
        let locks = VolumeLocks()
        let attachments = AttachmentService(
            journal: journal, locks: locks, connectors: [connector], node: node, stats: OperationStats(), logger: Logger(label: "test"))
        let settings = ConnectSettings(certificateFile: "/c", keyFile: "/k", caFile: "/ca", timeout: .seconds(5), retryInterval: .seconds(1))
        let storage = storage
        service = ConnectService(
            journal: journal, locks: locks, attachments: attachments, settings: settings, node: node, logger: Logger(label: "test"),
            storageClient: { _, _ in TetherAgentClient(transport: storage) })
    }

    static let request = ConnectRequest(storage: "https://storage-1:8443", volume: .init(id: "vol-1", path: "/srv/vol-1"))
    static let revoke = "DELETE /v1/exports/vol-1?initiator=iqn.test%3Acompute"

    @Test func connectJournalsBothHalvesAndDisconnectRevokes() async throws {
        let (body, created) = try await service.connect(Self.request)
        #expect(created && body.state == "attached" && body.export == "created" && body.storage == "https://storage-1:8443")
        let record = try #require(try await journal.connection(volume: "vol-1"))
        #expect(record.initiator == "iqn.test:compute" && record.localAttachmentID == body.attachment?.id)
        // The CHAP password crossed in the answer, and is journaled nowhere.
        let (again, createdAgain) = try await service.connect(Self.request)
        #expect(!createdAgain && again.attachment?.id == body.attachment?.id)
        #expect(storage.requests == ["POST /v1/exports"])

        let response = try await service.disconnect(volumeID: "vol-1")
        #expect(response.disconnected)
        #expect(storage.requests.last == Self.revoke)
        #expect(try await journal.connection(volume: "vol-1") == nil)
        #expect(try await journal.counts().attachments == 0)
        #expect(try await service.disconnect(volumeID: "vol-1").disconnected == false)
    }

    @Test func anExportTheStorageAgentRefusedIsNotRevoked() async throws {
        storage.set(.refuse)
        let error = await #expect(throws: TetherError.self) { try await service.connect(Self.request) }
        #expect(error?.code == .invalidInput && error?.message.contains("refused the export: volume.path") == true, "\(String(describing: error))")
        #expect(storage.requests == ["POST /v1/exports"])
        #expect(try await journal.connections().isEmpty)
    }

    /// The attach fails and the storage node cannot be told: the record stays rolling_back with
    /// its error until `recover` reaches the storage node and revokes the export.
    @Test func anUndoTheStorageNodeMissedIsRetriedUntilItRevokes() async throws {
        connector.fail(with: TetherError(.iscsiUnreachable, "portal 192.0.2.1:3260 did not answer"))
        storage.set(.exportThenCut)
        let error = await #expect(throws: TetherError.self) { try await service.connect(Self.request) }
        #expect(error?.code == .iscsiUnreachable && error?.message.contains("tetherd retries it") == true, "\(String(describing: error))")
        let pending = try #require(try await journal.connection(volume: "vol-1"))
        #expect(pending.state == .rollingBack && pending.export == .created && pending.pendingError?.contains("agent_unavailable") == true)

        await service.recover()
        #expect(try await journal.connection(volume: "vol-1") != nil)
        storage.set(.serve)
        await service.recover()
        #expect(try await journal.connection(volume: "vol-1") == nil)
        #expect(storage.requests.last == Self.revoke)
    }

    /// A connect whose export call was cut off does not know whether the export was made: the
    /// undo revokes this node's initiator anyway.
    @Test func aLostExportAnswerIsRevoked() async throws {
        storage.set(.unreachable)
        let error = await #expect(throws: TetherError.self) { try await service.connect(Self.request) }
        #expect(error?.code == .agentUnavailable)
        #expect(try await journal.connection(volume: "vol-1")?.export == .unknown)
        storage.set(.serve)
        await service.recover()
        #expect(try await journal.connections().isEmpty)
        #expect(storage.requests.last == Self.revoke)
    }

    @Test(arguments: [
        (ConnectRequest(storage: "http://storage-1:8443", volume: .init(id: "vol-1", path: "/srv/v")), "storage:"),
        (ConnectRequest(storage: "https://storage-1:8443/x?y", volume: .init(id: "vol-1", path: "/srv/v")), "storage:"),
        (ConnectRequest(storage: "https://storage-1:99999", volume: .init(id: "vol-1", path: "/srv/v")), "storage:"),
        (ConnectRequest(storage: "https://user@storage-1", volume: .init(id: "vol-1", path: "/srv/v")), "storage:"),
        (ConnectRequest(storage: "https://storage-1", volume: .init(id: "../x", path: "/srv/v")), "volume.id:"),
        (ConnectRequest(storage: "https://storage-1", volume: .init(id: "v", path: "/srv/a,b")), "volume.path:"),
    ])
    func badInputNamesTheFieldAndChangesNothing(request: ConnectRequest, field: String) async throws {
        let error = await #expect(throws: TetherError.self) { try await service.connect(request) }
        #expect(error?.code == .invalidInput && error?.message.hasPrefix(field) == true, "\(String(describing: error))")
        #expect(storage.requests.isEmpty)
        #expect(try await journal.connections().isEmpty)
    }

    /// RBD needs no initiator: a node without one connects an RBD export (the storage node keeps
    /// it per volume, so the undo removes it whole), while an iSCSI connect is refused unsent.
    @Test func rbdConnectsWithoutAnInitiator() async throws {
        let node = ConnectorProperties()
        let locks = VolumeLocks()
        let storage = storage
        let service = ConnectService(
            journal: journal, locks: locks,
            attachments: AttachmentService(journal: journal, locks: locks, connectors: [connector], node: node, stats: OperationStats(), logger: Logger(label: "test")),
            settings: ConnectSettings(certificateFile: "/c", keyFile: "/k", caFile: "/ca", timeout: .seconds(5), retryInterval: .seconds(1)), node: node,
            logger: Logger(label: "test"), storageClient: { _, _ in TetherAgentClient(transport: storage) })
        let iscsi = await #expect(throws: TetherError.self) { try await service.connect(Self.request) }
        #expect(iscsi?.code == .notConfigured && storage.requests.isEmpty)

        let rbd = ConnectRequest(storage: "https://storage-1", volume: .init(id: "vol-1", rbd: .init(cluster: "ceph", pool: "rbd", image: "vol-1")))
        let (body, created) = try await service.connect(rbd)
        #expect(created && body.state == "attached")
        #expect(try await journal.connection(volume: "vol-1")?.initiator == nil)
        #expect(try await service.disconnect(volumeID: "vol-1").disconnected)
        #expect(storage.requests == ["POST /v1/exports", "DELETE /v1/exports/vol-1"])
    }

    @Test func storageURLsAreCanonical() throws {
        #expect(try StorageAgentURL("https://storage-1", field: "s").description == "https://storage-1:8443")
        #expect(try StorageAgentURL("https://10.0.0.1:9443/", field: "s").description == "https://10.0.0.1:9443")
        #expect(try StorageAgentURL("https://[fd00::1]:8443", field: "s").description == "https://[fd00::1]:8443")
    }

    @Test func withoutConnectSettingsItIsNotConfigured() async throws {
        let unconfigured = ConnectService(
            journal: journal, locks: VolumeLocks(), attachments: AttachmentService(
                journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:compute"), stats: OperationStats(),
                logger: Logger(label: "test")),
            settings: nil, node: ConnectorProperties(initiator: "iqn.test:compute"), logger: Logger(label: "test"))
        let error = await #expect(throws: TetherError.self) { try await unconfigured.connect(Self.request) }
        #expect(error?.code == .notConfigured)
    }

    @Test func configurationAndRoles() throws {
        let text = "[connect]\ncert = \"/tls/c.crt\"\nkey = \"/tls/c.key\"\nca = \"/tls/ca.crt\"\n"
        let settings = try #require(try AgentConfiguration.parse(text, file: "t.toml").connect)
        #expect(settings.timeout == .seconds(30) && settings.retryInterval == .seconds(30) && settings.keyFile == "/tls/c.key")
        #expect(try AgentConfiguration.parse("", file: "t.toml").connect == nil)
        for (bad, expected) in [
            ("[connect]\ncert = \"/c\"\nkey = \"/k\"", "[connect] has no ca"),
            ("[connect]\ncert = \"c\"\nkey = \"/k\"\nca = \"/ca\"", "[connect] cert \"c\" is not an absolute path"),
            (text + "timeout = 0", "[connect] timeout must be a positive number"),
            (text + "certs = \"/x\"", "unknown key [connect] certs"),
        ] {
            let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse(bad, file: "t.toml") }
            #expect(error?.description.contains(expected) == true, "\(error?.description ?? "no error")")
        }
        #expect(APIRole.required(method: "POST", path: "/v1/connections") == .attacher)
        #expect(APIRole.required(method: "DELETE", path: "/v1/connections/vol-1") == .attacher)
        #expect(try Failpoints.parse("connect.exported=pause") == [.connectExported: .pause])
    }

    @Test func aConnectKeyOthersMayReadIsNamed() async throws {
        let host = FakeHost()
        host.setFile("/tls/c.key", "key", mode: 0o644)
        let error = await #expect(throws: TetherError.self) { try await TLSCredentials.checkKeyMode("/tls/c.key", host: host, setting: "[connect] key") }
        #expect(error?.message.contains("/tls/c.key ([connect] key) has mode 644") == true, "\(String(describing: error))")
    }
}
