import TetherCore
@testable import TetherISCSI
import TetherMultipath
import Testing

@Suite struct KernelISCSIDetachTests {
    typealias F = KernelFixtures

    /// tetherd killed between login and device discovery: the journal has only the request.
    @Test func interruptedAttachRollsBackFromThePathsAlone() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        node.simulateLogin(portal: F.portalA, iqn: F.iqn)
        node.simulateLogin(portal: F.portalB, iqn: F.iqn)
        let connector = F.connector(node)
        // The first path had got as far as its disk.
        let session = try #require(try await connector.sysfs.session(serving: try Portal(parsing: F.portalA), target: F.iqn))
        try await connector.sysfs.scan(session, lun: 1)
        #expect(node.diskNames == ["sdb"])

        var request = F.request(portals: [F.portalA, F.portalB], multipath: true)
        request.connectionInfo = request.connectionInfo.redacted()
        let partial = connector.interruptedAttach(request)
        #expect(partial.devicePath == nil)
        #expect(partial.paths.count == 2)
        try await connector.detach(partial, attachmentID: request.attachmentID, force: true)

        #expect(node.sessionCount == 0)
        #expect(node.nodeRecords.isEmpty)
        #expect(node.diskNames.isEmpty)
        // No disk was in use, so nothing was flushed.
        #expect(node.arguments(of: "blockdev").isEmpty)
    }

    @Test func interruptedDiscoveredAttachFindsSessionsAtOtherPortals() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        node.simulateLogin(portal: F.portalB, iqn: F.iqn)
        let info = ConnectionInfo(
            driverVolumeType: "iscsi", data: ["target_portal": .string(F.portalA), "target_iqn": .string(F.iqn), "target_lun": 1, "volume_id": "vol-1"])
        var request = F.request(multipath: true)
        request.connectionInfo = info
        let connector = F.connector(node)
        try await connector.detach(connector.interruptedAttach(request), attachmentID: request.attachmentID, force: true)
        #expect(node.sessionCount == 0)
    }

    @Test func flushFailureStopsADetachWithoutForce() async throws {
        let node = F.node()
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request())
        node.blockdevFails = true

        let error = await #expect(throws: TetherError.self) {
            try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
        }
        #expect(error?.code == .hostCommandFailed)
        #expect(node.diskNames == ["sdb"])
        #expect(node.sessionCount == 1)

        // With force it goes on, cleans up, and still reports what went wrong.
        let forced = await #expect(throws: TetherError.self) {
            try await connector.detach(volume, attachmentID: "att-vol-1", force: true)
        }
        #expect(forced?.code == .hostCommandFailed)
        #expect(node.diskNames.isEmpty)
        #expect(node.sessionCount == 0)
        #expect(node.nodeRecords.isEmpty)
    }

    @Test func mapThatWillNotFlushIsRemovedOnlyWithForce() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        node.multipathFlushFails = true

        let error = await #expect(throws: TetherError.self) {
            try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
        }
        #expect(error?.code == .multipathFailed)
        #expect(node.mapCount == 1)
        #expect(node.diskNames.count == 2)
        #expect(node.arguments(of: "multipath").filter { $0.first == "-f" }.count == 2)

        try await connector.detach(volume, attachmentID: "att-vol-1", force: true)
        #expect(node.arguments(of: "multipathd").contains(["disablequeueing", "map", "3" + F.wwid.dropFirst(4)]))
        #expect(node.mapCount == 0)
        #expect(node.sessionCount == 0)
    }

    @Test func detachWithoutDevicePathFindsTheMapBySlaves() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        let connector = F.connector(node)
        var volume = try await connector.attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        volume.devicePath = nil
        volume.wwid = nil
        try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
        #expect(node.mapCount == 0)
        #expect(node.sessionCount == 0)
    }

    @Test func extendRescansThePathsAndResizesTheMap() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        node.resize(F.portalA, F.iqn, lun: 1, to: F.size * 2)
        node.resize(F.portalB, F.iqn, lun: 1, to: F.size * 2)

        let size = try await connector.extend(volume, attachmentID: "att-vol-1")
        #expect(size == F.size * 2)
        #expect(node.fake.attributeWriteLog.filter { $0.path.hasSuffix("/rescan") }.count == 2)
        #expect(node.arguments(of: "multipathd").contains(["resize", "map", "3" + F.wwid.dropFirst(4)]))
    }

    @Test func extendOfOnePathAndOfNothing() async throws {
        let node = F.node()
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request())
        node.resize(F.portalA, F.iqn, lun: 1, to: F.size + 4096)
        #expect(try await connector.extend(volume, attachmentID: "att-vol-1") == F.size + 4096)
        try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
        let error = await #expect(throws: TetherError.self) { try await connector.extend(volume, attachmentID: "att-vol-1") }
        #expect(error?.code == .notFound)
    }

    @Test func networkConnectorsDoNotExtend() async throws {
        let connector = NetworkISCSIConnector(host: SimulatedNode().fake, secretDirectory: "/tmp")
        let error = await #expect(throws: TetherError.self) {
            try await connector.extend(.partial(protocolName: "iscsi", mode: .network, secretFiles: []), attachmentID: "a")
        }
        #expect(error?.code == .unsupported)
    }
}

@Suite struct KernelISCSIParsingTests {
    @Test func nodeRecordEditing() {
        let record = "# BEGIN RECORD 2.1.9\nnode.name = iqn.x\nnode.session.auth.authmethod = None\n# END RECORD\n"
        let edited = ISCSINodeRecord.setting([("node.session.auth.authmethod", "CHAP"), ("node.session.auth.password", "p w")], in: record)
        #expect(edited == "# BEGIN RECORD 2.1.9\nnode.name = iqn.x\nnode.session.auth.authmethod = CHAP\nnode.session.auth.password = p w\n# END RECORD\n")
        #expect(ISCSINodeRecord.value(of: "node.session.auth.password", in: edited) == "p w")
        // password_in is a different setting from password.
        let mutual = ISCSINodeRecord.setting([("node.session.auth.password_in", "x")], in: edited)
        #expect(ISCSINodeRecord.value(of: "node.session.auth.password", in: mutual) == "p w")
        #expect(ISCSINodeRecord.value(of: "node.session.auth.password_in", in: mutual) == "x")
    }

    @Test func nodeRecordFilesOfBothLayouts() throws {
        let portal = try Portal(parsing: "192.0.2.10:3260")
        #expect(ISCSINodeRecord.candidates(for: portal, iface: "default", in: ["192.0.2.10,3260", "192.0.2.10,3260,1", "192.0.2.100,3260"])
            == ["192.0.2.10,3260,1/default", "192.0.2.10,3260"])
        let v6 = try Portal(parsing: "[fd00::1]:3260")
        #expect(ISCSINodeRecord.candidates(for: v6, iface: "default", in: ["fd00::1,3260,-1"]) == ["fd00::1,3260,-1/default"])
    }

    @Test func recordValuesOpenISCSICannotKeepAreRefused() {
        for value in [" lead", "a\u{7}b", String(repeating: "x", count: 256)] {
            let error = #expect(throws: TetherError.self) { try ISCSINodeRecord.check(value, what: "p") }
            #expect(error?.code == .invalidInput, "\(value)")
        }
        #expect(throws: Never.self) { try ISCSINodeRecord.check("in = side #ok", what: "p") }
    }

    @Test func addressesAndHostNumbers() throws {
        #expect(KernelISCSISession.sameHost("fd00:0:0::01", "[FD00::1]"))
        #expect(!KernelISCSISession.sameHost("fd00::1", "fd00::2"))
        #expect(KernelISCSISession.sameHost("192.0.2.10", "192.0.2.10"))
        #expect(ISCSISysfs.hostNumber(in: "/sys/devices/platform/host12/session3") == 12)
        #expect(ISCSISysfs.hostNumber(in: "/sys/devices/pci0000:00/0000:00:02.0/host3/session1") == 3)
        #expect(SCSIAddress(parsing: "2:0:0:16385") == SCSIAddress(host: 2, channel: 0, target: 0, lun: 16385))
        #expect(SCSIAddress(parsing: "target2:0:0") == nil)
    }

    @Test func lunAddressing() throws {
        #expect(try LUNAddressing(connectionInfoValue: nil).kernelLUN(300) == 300)
        #expect(try LUNAddressing(connectionInfoValue: "SAM2").kernelLUN(255) == 255)
        #expect(try LUNAddressing(connectionInfoValue: "SAM2").kernelLUN(256) == 16640)
        #expect(try LUNAddressing(connectionInfoValue: "SAM3-flat").kernelLUN(1) == 16385)
        let flat = #expect(throws: TetherError.self) { try LUNAddressing(connectionInfoValue: "flat") }
        #expect(flat?.code == .invalidInput)
    }

    @Test(arguments: [
        (Int32(24), TetherError.Code.iscsiAuthFailed), (19, .iscsiNotAuthorized), (8, .iscsiUnreachable), (4, .iscsiUnreachable),
        (12, .iscsiLoginFailed), (21, .iscsiCommandFailed), (1, .iscsiLoginFailed),
    ])
    func iscsiadmExitCodes(exit: Int32, code: TetherError.Code) throws {
        let path = ISCSIPath(portal: try Portal(parsing: "192.0.2.10"), iqn: "iqn.x:y", lun: 0)
        #expect(ISCSIAdmStatus.error("login", path: path, result: CommandResult(exitCode: exit, stderr: "iscsiadm: failed")).code == code)
    }

    @Test func sendTargetsChoosesTheNamedTarget() throws {
        let seed = ISCSIPath(portal: try Portal(parsing: "192.0.2.10"), iqn: "iqn.b", lun: 3)
        let b = [try Portal(parsing: "192.0.2.10"), try Portal(parsing: "198.51.100.10")]
        let paths = try SendTargetsDiscovery.paths(seed: seed, targets: [("iqn.a", []), ("iqn.b", b)])
        #expect(paths.map(\.portal) == b && paths.allSatisfy { $0.lun == 3 && $0.iqn == "iqn.b" })
        let unnamed = #expect(throws: TetherError.self) { try SendTargetsDiscovery.paths(seed: ISCSIPath(portal: seed.portal, iqn: "", lun: 3), targets: [("iqn.a", []), ("iqn.b", b)]) }
        #expect(unnamed?.code == .invalidInput)
        let unlisted = #expect(throws: TetherError.self) { try SendTargetsDiscovery.paths(seed: seed, targets: [("iqn.a", [])]) }
        #expect(unlisted?.code == .iscsiNotAuthorized)
    }
}
