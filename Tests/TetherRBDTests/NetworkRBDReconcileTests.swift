import Foundation
import TetherCeph
import TetherCore
import TetherRBD
import TetherFakes
import Testing

@Suite struct NetworkRBDReconcileTests {
    typealias F = KRBDFixtures
    static let secrets = "/var/lib/tether/secrets"
    static let keyFile = "\(secrets)/att-1.cephx"
    static let conf = "/etc/ceph/ceph-a.conf"

    static func connector(_ host: FakeHost) async throws -> NetworkRBDConnector {
        let registry = try await F.registry(host)
        return NetworkRBDConnector(host: host, registry: { registry }, connections: RADOSConnections(), cephDirectory: "/etc/ceph", secretDirectory: secrets)
    }

    /// What a network attach of ceph-a's volumes/volume-1 journals.
    static let volume = AttachedVolume(
        protocolName: "rbd", mode: .network, paths: [], wwid: nil, sizeBytes: F.imageBytes, blockSize: nil, devicePath: nil, diskXML: "<disk/>",
        qemuBlockdev: .null, qemuObjects: [], secretFiles: [keyFile],
        handle: .networkRBD(NetworkRBDHandle(cluster: "ceph-a", fsid: F.fsidA, user: "cinder", resolvedBy: "cluster_name", features: [], watchers: [], lockOwners: [])))

    @Test func lostFilesAreWrittenAgainFromTheRegistry() async throws {
        let host = try await F.kernel().host
        let connector = try await Self.connector(host)

        let look = await connector.inspect(Self.volume, attachmentID: "att-1", heal: false)
        #expect(look.health == .missing)
        #expect(look.problems.count == 2)
        #expect(host.file(Self.keyFile) == nil)

        let healed = await connector.inspect(Self.volume, attachmentID: "att-1", heal: true)
        #expect(healed.health == .healthy)
        #expect(healed.problems.isEmpty)
        #expect(healed.repairs.count == 2)
        #expect(healed.volume == Self.volume)
        #expect(host.file(Self.keyFile).map { String(decoding: $0.contents, as: UTF8.self) } == F.keyA)
        #expect(host.file(Self.keyFile)?.mode == 0o600)
        #expect(try await host.read(Self.conf).hasPrefix(CephFileSet.header))
        #expect(await connector.inspect(Self.volume, attachmentID: "att-1", heal: false).health == .healthy)
    }

    @Test func aKeyFileOthersMayReadIsDegradedAndTightened() async throws {
        let host = try await F.kernel().host
        let connector = try await Self.connector(host)
        _ = await connector.inspect(Self.volume, attachmentID: "att-1", heal: true)
        host.setFile(Self.keyFile, F.keyA, mode: 0o644)

        let look = await connector.inspect(Self.volume, attachmentID: "att-1", heal: false)
        #expect(look.health == .degraded)
        #expect(look.problems.first?.contains("chmod 600") == true)
        #expect(await connector.inspect(Self.volume, attachmentID: "att-1", heal: true).health == .healthy)
        #expect(host.file(Self.keyFile)?.mode == 0o600)
    }

    @Test func aClusterNoLongerRegisteredIsNotHealed() async throws {
        let host = try await F.kernel().host
        try await host.removeFile("\(F.registryDirectory)/clusters.d/ceph-a.toml")
        let connector = try await Self.connector(host)
        let inspection = await connector.inspect(Self.volume, attachmentID: "att-1", heal: true)
        #expect(inspection.health == .missing)
        #expect(inspection.repairs.isEmpty)
        #expect(inspection.problems.last?.hasPrefix("not healed: cluster ceph-a (fsid \(F.fsidA)) is no longer registered") == true)
        #expect(host.file(Self.keyFile) == nil)
    }

    @Test func aConfTetherDidNotWriteIsReportedAndKept() async throws {
        let host = try await F.kernel().host
        let connector = try await Self.connector(host)
        host.setFile(Self.conf, "[global]\nmon host = 203.0.113.9\n")
        host.setFile(Self.keyFile, F.keyA, mode: 0o600)
        let inspection = await connector.inspect(Self.volume, attachmentID: "att-1", heal: true)
        #expect(inspection.health == .degraded)
        #expect(try await host.read(Self.conf) == "[global]\nmon host = 203.0.113.9\n")
    }

    @Test func secretFilesNoAttachmentNamesAreOrphans() async throws {
        let host = try await F.kernel().host
        let connector = try await Self.connector(host)
        for name in ["att-1.cephx", "att-2.cephx", "att-3.chap", "att-4.cephx"] {
            host.setFile("\(Self.secrets)/\(name)", "x", mode: 0o600)
        }
        // att-4 is an attach in flight: what its interrupted attach names is known.
        let inFlight = connector.interruptedAttach(
            AttachRequest(
                attachmentID: "att-4", volumeID: "vol-4", connectionInfo: ConnectionInfo(driverVolumeType: "rbd", data: [:]), mode: .network,
                accessMode: .readWrite, connector: ConnectorProperties()))
        let orphans = try await connector.orphans(known: [Self.volume, inFlight])
        #expect(orphans.map(\.name) == ["\(Self.secrets)/att-2.cephx"])
        #expect(orphans.map(\.kind) == [.secretFile])

        try await connector.remove(orphans[0])
        #expect(host.file("\(Self.secrets)/att-2.cephx") == nil)
        #expect(host.file("\(Self.secrets)/att-3.chap") != nil)
        for name in ["\(Self.secrets)/att-3.chap", "\(Self.secrets)/../keys/x.cephx", "/etc/x.cephx"] {
            let error = await #expect(throws: TetherError.self) { try await connector.remove(Orphan(kind: .secretFile, name: name, detail: "")) }
            #expect(error?.code == .invalidInput)
        }
    }
}
