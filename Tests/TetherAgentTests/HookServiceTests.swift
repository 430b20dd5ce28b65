import Foundation
import Logging
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherFakes
import Testing

/// prepare and release of the qemu hook against a kernel-mode ScriptedConnector: what the hook
/// attaches it owns, and it never detaches what another caller attached.
@Suite struct HookServiceTests {
    let journal: Journal
    let connector = ScriptedConnector(mode: .kernel)
    let attachments: AttachmentService
    let directory: TemporaryDirectory

    init() throws {
        journal = try Journal()
        attachments = AttachmentService(
            journal: journal, locks: VolumeLocks(), connectors: [connector], node: ConnectorProperties(initiator: "iqn.test:node"),
            stats: OperationStats(), logger: Logger(label: "test"))
        directory = try TemporaryDirectory(prefix: "hook")
    }

    func hooks() async throws -> HookService {
        let clusters = try await ClusterService(directory: directory.path, cephDirectory: directory.file("ceph"), secretStore: nil, host: FakeHost(), logger: Logger(label: "test"))
        return HookService(attachments: attachments, journal: journal, clusters: clusters, cephDirectory: directory.file("ceph"), logger: Logger(label: "test"))
    }

    static func kernelAttach(_ volume: String, chap: Bool = false) -> CreateAttachmentRequest {
        var data: [String: JSONValue] = [
            "target_portal": "192.0.2.1:3260", "target_iqn": .string("iqn.2026-11.io.tether:\(volume)"), "target_lun": 1, "volume_id": .string(volume),
        ]
        if chap {
            data["auth_method"] = "CHAP"
            data["auth_username"] = "u"
            data["auth_password"] = "topsecret"
        }
        return CreateAttachmentRequest(connectionInfo: ConnectionInfo(driverVolumeType: "iscsi", data: data), mode: .kernel)
    }

    static func domain(_ volumes: [String]) -> String {
        let disks = volumes.enumerated().map { index, volume in
            "<disk type='block' device='disk'><source dev='/dev/disk/by-tether/\(volume)'/><target dev='vd\(Character(UnicodeScalar(98 + index)!))' bus='virtio'/></disk>"
        }
        return "<domain type='qemu'><name>vm1</name><devices>\(disks.joined())</devices></domain>"
    }

    @Test func prepareAttachesAKnownVolumeAndReleaseDetachesOnlyWhatItAttached() async throws {
        defer { directory.remove() }
        let hooks = try await hooks()
        // vol-h: attached once and detached (known); vol-o: attached by another caller, stays.
        _ = try await attachments.attach(Self.kernelAttach("vol-h"))
        _ = try await attachments.detach("vol-h", force: false)
        let (other, _) = try await attachments.attach(Self.kernelAttach("vol-o"))

        let xml = Self.domain(["vol-h", "vol-o"])
        let prepared = try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .prepare, xml: xml))
        #expect(prepared.actions.count == 2)
        let held = try #require(try await journal.attachments(volume: "vol-h").first)
        #expect(try await journal.hookClaims(domain: "vm1").map(\.attachmentID) == [held.id])

        // Again (libvirt retrying a start): nothing new.
        _ = try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .prepare, xml: xml))
        #expect(try await journal.attachments(volume: "vol-h").count == 1)

        _ = try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .release, xml: xml))
        #expect(try await journal.attachments(volume: "vol-h").isEmpty)
        #expect(try await journal.attachments(volume: "vol-o").map(\.id) == [other.id])
        #expect(connector.detachedIDs.contains(held.id) && !connector.detachedIDs.contains(other.id))
        #expect(try await journal.hookClaims(domain: "vm1").isEmpty)

        // Released twice: nothing to do, no error.
        _ = try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .release, xml: xml))
    }

    @Test func prepareOfAnUnknownVolumeNamesItAndAttachesNothing() async throws {
        defer { directory.remove() }
        let hooks = try await hooks()
        _ = try await attachments.attach(Self.kernelAttach("vol-h"))
        _ = try await attachments.detach("vol-h", force: false)
        let error = await #expect(throws: TetherError.self) {
            try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .prepare, xml: Self.domain(["vol-h", "vol-unknown"])))
        }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("vol-unknown") == true)
        // vol-h, attached before the refusal, is detached again: the node is as before.
        #expect(try await journal.attachments().isEmpty)
        #expect(try await journal.hookClaims(domain: "vm1").isEmpty)
        #expect(connector.attachedIDs.count == 2 && connector.detachedIDs.count == 2)
    }

    @Test func aCHAPVolumeWhosePasswordIsNotKeptIsRefused() async throws {
        defer { directory.remove() }
        let hooks = try await hooks()
        _ = try await attachments.attach(Self.kernelAttach("vol-c", chap: true))
        _ = try await attachments.detach("vol-c", force: false)
        let error = await #expect(throws: TetherError.self) {
            try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .prepare, xml: Self.domain(["vol-c"])))
        }
        #expect(error?.message.contains("vol-c") == true && error?.message.contains("CHAP") == true)
        #expect(connector.attachedIDs.count == 1)
    }

    @Test func aVolumeHeldForAnotherDomainIsRefused() async throws {
        defer { directory.remove() }
        let hooks = try await hooks()
        _ = try await attachments.attach(Self.kernelAttach("vol-h"))
        _ = try await attachments.detach("vol-h", force: false)
        _ = try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .prepare, xml: Self.domain(["vol-h"])))
        let error = await #expect(throws: TetherError.self) {
            try await hooks.qemu(QemuHookRequest(domain: "vm2", action: .prepare, xml: Self.domain(["vol-h"])))
        }
        #expect(error?.message.contains("vm1") == true)
        // vm2's release must not take vm1's disk away.
        _ = try await hooks.qemu(QemuHookRequest(domain: "vm2", action: .release, xml: Self.domain(["vol-h"])))
        #expect(try await journal.attachments(volume: "vol-h").count == 1)
    }

    @Test func reconnectChangesNothing() async throws {
        defer { directory.remove() }
        let hooks = try await hooks()
        _ = try await attachments.attach(Self.kernelAttach("vol-h"))
        _ = try await attachments.detach("vol-h", force: false)
        let answer = try await hooks.qemu(QemuHookRequest(domain: "vm1", action: .reconnect, xml: Self.domain(["vol-h"])))
        #expect(answer.actions.first?.contains("NOT attached") == true)
        #expect(answer.xml == nil)
        #expect(try await journal.attachments().isEmpty)
    }
}
