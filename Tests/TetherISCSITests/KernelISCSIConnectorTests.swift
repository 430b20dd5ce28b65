import TetherCore
@testable import TetherISCSI
import TetherMultipath
import Testing

@Suite struct KernelISCSIAttachTests {
    typealias F = KernelFixtures

    @Test func singlePathAttachAndDetachLeaveNothing() async throws {
        let node = F.node()
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request())

        #expect(volume.mode == .kernel)
        #expect(volume.devicePath == "/dev/sdb")
        #expect(volume.wwid == F.wwid)
        #expect(volume.sizeBytes == F.size)
        #expect(volume.blockSize == 512)
        #expect(volume.paths == [AttachedVolume.Path(portal: F.portalA, target: F.iqn, lun: 1, state: "active")])
        // udev linked by-tether once the connector named the WWID's volume in the map file.
        let stable = "/dev/disk/by-tether/vol-1"
        let mapFile = "/run/tether/by-wwid/3" + F.wwid.dropFirst(4)
        #expect(node.fake.file(mapFile).map { String(decoding: $0.contents, as: UTF8.self) } == "TETHER_VOLUME_ID=vol-1\n")
        #expect(volume.handle.kernelISCSI?.stableName == stable)
        #expect(volume.handle.kernelISCSI?.byTether == "/dev/disk/by-tether/vol-1")
        #expect(volume.diskXML.contains("<disk type='block' device='disk'>"))
        #expect(volume.diskXML.contains("<source dev='\(stable)'/>"))
        #expect(volume.qemuBlockdev["file"]?["driver"]?.stringValue == "host_device")
        #expect(volume.qemuBlockdev["file"]?["filename"]?.stringValue == stable)
        #expect(node.sessionCount == 1)
        // Only the wanted LUN was scanned, before the target had a directory.
        #expect(node.fake.attributeWriteLog.filter { $0.path.hasSuffix("/scan") }.map(\.value) == ["- - 1"])
        // The settings went into the record file: iscsiadm ran only to make the record and log in.
        #expect(node.arguments(of: "iscsiadm").map { $0.contains("--login") ? "login" : $0.contains("new") ? "new" : "other" } == ["new", "login"])
        let record = String(decoding: try #require(node.fake.file("/etc/iscsi/nodes/\(F.iqn)/192.0.2.10,3260")).contents, as: UTF8.self)
        #expect(record.contains("node.session.scan = manual\n") && record.contains("node.startup = manual\n"))
        #expect(!record.contains("node.session.scan = auto") && !record.contains("node.startup = automatic"))

        try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
        #expect(node.sessionCount == 0)
        #expect(node.nodeRecords.isEmpty)
        #expect(node.diskNames.isEmpty)
        #expect(node.arguments(of: "blockdev") == [["--flushbufs", "/dev/sdb"]])
        #expect(node.fake.filePaths.filter { $0.hasPrefix("/etc/iscsi") }.isEmpty)
        #expect(node.fake.file(mapFile) == nil)

        // Detaching what is gone is fine.
        try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
    }

    @Test func stableNameMustLeadToTheDevice() async throws {
        let node = F.node()
        node.tetherRules = false
        node.fake.link("/dev/disk/by-tether/vol-1", to: "/dev/sdz")
        let stale = try await F.connector(node).attach(F.request())
        #expect(stale.handle.kernelISCSI?.stableName == "/dev/disk/by-id/wwn-0x" + F.wwid.dropFirst(4))
        #expect(stale.diskXML.contains("<source dev='/dev/disk/by-id/wwn-0x\(F.wwid.dropFirst(4))'/>"))
    }

    @Test func volumeIDsALinkCannotCarryGetNoMapFile() async throws {
        let node = F.node()
        let volume = try await F.connector(node).attach(F.request(volume: "vol/../1"))
        #expect(!node.fake.filePaths.contains { $0.hasPrefix("/run/tether") })
        #expect(volume.handle.kernelISCSI?.stableName == "/dev/disk/by-id/wwn-0x" + F.wwid.dropFirst(4))
    }

    @Test func twoPortalsWithMultipathMakeOneMap() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request(portals: [F.portalA, F.portalB], multipath: true))

        #expect(volume.devicePath == "/dev/dm-0")
        #expect(volume.paths.map(\.state) == ["active", "active"])
        #expect(volume.handle.kernelISCSI?.multipath?.uuid == "mpath-3" + F.wwid.dropFirst(4))
        #expect(volume.handle.kernelISCSI?.stableName == "/dev/disk/by-tether/vol-1")
        #expect(await node.fake.resolvePath("/dev/disk/by-tether/vol-1") == "/dev/dm-0")
        #expect(Set(volume.handle.kernelISCSI?.sessions.compactMap(\.device) ?? []) == ["sdb", "sdc"])
        #expect(node.sessionCount == 2)
        #expect(node.mapCount == 1)
        #expect(node.arguments(of: "multipath").contains(["-a", "3" + F.wwid.dropFirst(4)]))

        try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
        #expect(node.arguments(of: "multipath").contains(["-f", "3" + F.wwid.dropFirst(4)]))
        // The map was flushed, so the paths themselves were not.
        #expect(node.arguments(of: "blockdev").isEmpty)
        #expect(node.mapCount == 0)
        #expect(node.sessionCount == 0)
        #expect(node.nodeRecords.isEmpty)
        #expect(!node.fake.filePaths.contains { $0.hasPrefix("/run/tether") })
    }

    @Test func inconsistentWWIDIsRefusedAndEverythingUndone() async throws {
        let node = SimulatedNode()
        node.serve(F.portalA, F.iqn, lun: 1, .init(wwid: F.wwid, sizeBytes: F.size))
        node.serve(F.portalB, F.iqn, lun: 1, .init(wwid: F.otherWWID, sizeBytes: F.size))
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        }
        #expect(error?.code == .iscsiWWIDMismatch)
        #expect(node.sessionCount == 0)
        #expect(node.nodeRecords.isEmpty)
        #expect(node.diskNames.isEmpty)
        #expect(node.mapCount == 0)
        #expect(!node.arguments(of: "multipath").contains { $0.first == "-a" })
    }

    @Test func differentSizesAreRefused() async throws {
        let node = SimulatedNode()
        node.serve(F.portalA, F.iqn, lun: 1, .init(wwid: F.wwid, sizeBytes: F.size))
        node.serve(F.portalB, F.iqn, lun: 1, .init(wwid: F.wwid, sizeBytes: F.size * 2))
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        }
        #expect(error?.code == .iscsiWWIDMismatch)
        #expect(node.sessionCount == 0 && node.diskNames.isEmpty)
    }

    @Test func lunThatNeverAppearsFailsAndLogsOut() async throws {
        let node = F.node(lun: 1)
        let started = ContinuousClock.now
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request(lun: 7))
        }
        #expect(error?.code == .iscsiLUNNotFound)
        #expect(error?.message.contains("LUN 7") == true)
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(node.sessionCount == 0)
        #expect(node.nodeRecords.isEmpty)
        #expect(node.arguments(of: "iscsiadm").contains { $0.contains("--logout") })
    }

    @Test func diskAnnouncedLaterByUdevIsWaitedFor() async throws {
        let node = F.node()
        node.scanDelay = .milliseconds(150)
        let volume = try await F.connector(node).attach(F.request())
        #expect(volume.devicePath == "/dev/sdb")
    }

    @Test func aSecondLUNKeepsTheSessionWhenTheFirstIsDetached() async throws {
        let node = F.node(lun: 1)
        node.serve(F.portalA, F.iqn, lun: 2, .init(wwid: F.otherWWID, sizeBytes: F.size))
        let connector = F.connector(node)
        let first = try await connector.attach(F.request(lun: 1, volume: "vol-1"))
        let second = try await connector.attach(F.request(lun: 2, volume: "vol-2"))
        #expect(node.sessionCount == 1)
        #expect(node.arguments(of: "iscsiadm").filter { $0.contains("--login") }.count == 1)
        // The target had a directory by then: the second scan names it.
        #expect(node.fake.attributeWriteLog.map(\.value).contains("0 0 2"))

        try await connector.detach(first, attachmentID: "att-vol-1", force: false)
        #expect(node.sessionCount == 1)
        #expect(node.diskNames == ["sdc"])
        #expect(!node.nodeRecords.isEmpty)
        #expect(!node.arguments(of: "iscsiadm").contains { $0.contains("--logout") })

        try await connector.detach(second, attachmentID: "att-vol-2", force: false)
        #expect(node.sessionCount == 0)
        #expect(node.nodeRecords.isEmpty)
    }

    @Test func failedAttachDoesNotLogOutASessionItFound() async throws {
        let node = F.node(lun: 1)
        let connector = F.connector(node)
        let first = try await connector.attach(F.request(lun: 1, volume: "vol-1"))
        let missing = await #expect(throws: TetherError.self) { try await connector.attach(F.request(lun: 9, volume: "vol-9")) }
        #expect(missing?.code == .iscsiLUNNotFound, "\(String(describing: missing))")
        #expect(node.sessionCount == 1)
        #expect(node.diskNames == ["sdb"])
        try await connector.detach(first, attachmentID: "att-vol-1", force: false)
        #expect(node.sessionCount == 0)
    }

    @Test func chapSecretsGoOnlyIntoTheNodeRecord() async throws {
        let node = F.node()
        node.requireCHAP(F.portalA, F.iqn, user: "chapuser", password: "s3cret-Pass")
        let request = F.request(extra: F.chap(password: "s3cret-Pass", mutualUser: "target", mutualPassword: "mutual-S3cret"))
        let volume = try await F.connector(node).attach(request)
        #expect(volume.devicePath == "/dev/sdb")

        for command in node.ranCommands {
            let line = ([command.executable] + command.arguments).joined(separator: " ")
            #expect(!line.contains("s3cret-Pass") && !line.contains("mutual-S3cret"), "secret on a command line: \(line)")
        }
        let record = try #require(node.fake.file("/etc/iscsi/nodes/\(F.iqn)/192.0.2.10,3260"))
        #expect(record.mode == 0o600)
        let text = String(decoding: record.contents, as: UTF8.self)
        #expect(text.contains("node.session.auth.password = s3cret-Pass\n"))
        #expect(node.arguments(of: "iscsiadm").filter { $0.contains("update") }.isEmpty)
        #expect(text.contains("node.session.auth.authmethod = CHAP\n") && text.contains("node.session.auth.username = chapuser\n"))
        #expect(text.contains("node.session.auth.password_in = mutual-S3cret\n"))
        #expect(text.contains("node.session.auth.username_in = target\n"))
        #expect(text.hasSuffix("# END RECORD\n"))
        #expect(!"\(volume)".contains("s3cret"))
    }

    @Test func wrongCHAPPasswordIsAnAuthFailureAndUndone() async throws {
        let node = F.node()
        node.requireCHAP(F.portalA, F.iqn, user: "chapuser", password: "right")
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request(extra: F.chap(password: "wrong")))
        }
        #expect(error?.code == .iscsiAuthFailed)
        #expect(node.nodeRecords.isEmpty)
        #expect(node.fake.filePaths.filter { $0.hasPrefix("/etc/iscsi") }.isEmpty)
    }

    @Test func secretsARecordCannotHoldAreRefusedBeforeAnyCommand() async throws {
        let node = F.node()
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request(extra: F.chap(password: "two\nlines")))
        }
        #expect(error?.code == .invalidInput)
        #expect(node.ranCommands.isEmpty)
    }

    @Test(arguments: [24: TetherError.Code.iscsiAuthFailed, 19: .iscsiNotAuthorized, 8: .iscsiUnreachable, 5: .iscsiLoginFailed, 20: .iscsiLoginFailed])
    func loginFailures(exit: Int32, code: TetherError.Code) async throws {
        let node = F.node()
        node.failLogins(at: F.portalA, exit: exit)
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request())
        }
        #expect(error?.code == code)
        #expect(node.nodeRecords.isEmpty)
    }

    @Test func singlePathModeTriesTheNextPortal() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        node.failLogins(at: F.portalA, exit: 8)
        let volume = try await F.connector(node).attach(F.request(portals: [F.portalA, F.portalB]))
        #expect(volume.paths.map(\.portal) == [F.portalB, F.portalA])
        #expect(volume.paths.map(\.state) == ["active", "failed: iscsi.unreachable"])
        #expect(node.sessionCount == 1)
        #expect(node.nodeRecords == ["\(F.portalB) \(F.iqn)"])
    }

    @Test func multipathPathFailureLeavesTheOtherPathsInTheMap() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        node.failLogins(at: F.portalB, exit: 8)
        let volume = try await F.connector(node).attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        #expect(volume.devicePath == "/dev/dm-0")
        #expect(volume.paths.map(\.state) == ["active", "failed: iscsi.unreachable"])
        #expect(node.nodeRecords == ["\(F.portalA) \(F.iqn)"])
    }

    @Test func enforcedMultipathWithoutMultipathdFailsBeforeLogin() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        node.multipathdRunning = false
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request(portals: [F.portalA, F.portalB], multipath: true, enforce: true))
        }
        #expect(error?.code == .multipathUnavailable)
        #expect(node.arguments(of: "iscsiadm").isEmpty)
    }

    @Test func multipathWithoutMultipathdFallsBackToOnePath() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        node.multipathdRunning = false
        let volume = try await F.connector(node).attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        #expect(volume.devicePath == "/dev/sdb")
        #expect(node.sessionCount == 1)
    }

    @Test func iscsiadmLosingTheLockDirectoryRaceIsRunAgain() async throws {
        // Both paths' first iscsiadm calls race to create open-iscsi's lock directory; one loses.
        let node = F.node(portals: [F.portalA, F.portalB])
        node.databaseLockRaces = 1
        let volume = try await F.connector(node).attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        #expect(volume.devicePath == "/dev/dm-0")
        #expect(node.sessionCount == 2)
        #expect(volume.paths.allSatisfy { $0.state == "active" })
    }

    @Test func aDiskMultipathdTakesAnywayIsUsedThroughItsMap() async throws {
        let node = F.node()
        node.multipathClaimsEveryDisk = true
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request())
        #expect(volume.devicePath == "/dev/dm-0")
        #expect(volume.handle.kernelISCSI?.multipath?.device == "dm-0")
        #expect(node.arguments(of: "multipath").contains(["-c", "/dev/sdb"]))
        #expect(volume.handle.kernelISCSI?.stableName == "/dev/disk/by-tether/vol-1")

        try await connector.detach(volume, attachmentID: "att-vol-1", force: false)
        #expect(node.fake.file("/sys/block/dm-0/dm/uuid") == nil)
        #expect(node.sessionCount == 0)
        #expect(node.diskNames.isEmpty)
    }

    @Test func anOpenISCSIWithoutManualScanGetsTheOtherSettings() async throws {
        let node = F.node()
        node.unknownSettings = ["node.session.scan"]
        node.requireCHAP(F.portalA, F.iqn, user: "chapuser", password: "right")
        let volume = try await F.connector(node).attach(F.request(extra: F.chap(password: "right")))
        #expect(volume.devicePath == "/dev/sdb")
        // The record has no node.session.scan: iscsiadm was asked for it alone and refused it.
        #expect(node.arguments(of: "iscsiadm").filter { $0.contains("update") }.count == 1)
        let record = try #require(node.fake.file("/etc/iscsi/nodes/\(F.iqn)/192.0.2.10,3260"))
        let text = String(decoding: record.contents, as: UTF8.self)
        #expect(text.contains("node.session.auth.authmethod = CHAP\n") && text.contains("node.startup = manual\n"))
        #expect(!text.contains("node.session.scan"))
    }

    @Test func aVolumeNamedBeforeItsDiskShowsNeedsNoSecondUdevEvent() async throws {
        let node = F.node()
        node.holdDisks = true
        let connector = F.connector(node)
        let attach = Task { try await connector.attach(F.request()) }
        // The disk shows only once the map file is there (or after 5 s without it): udev's add
        // event then reads the file, and no `change` event is needed.
        let mapFile = "/run/tether/by-wwid/3" + F.wwid.dropFirst(4)
        for _ in 0..<500 where node.fake.file(mapFile) == nil { try await Task.sleep(for: .milliseconds(10)) }
        node.releaseDisks()
        let volume = try await attach.value
        #expect(volume.handle.kernelISCSI?.stableName == "/dev/disk/by-tether/vol-1")
        #expect(node.fake.attributeWriteLog.filter { $0.path.hasSuffix("/uevent") }.isEmpty)
    }

    @Test func recordsOutsideTheNodeDirectoriesAreSetUpByIscsiadm() async throws {
        // A node whose open-iscsi keeps records elsewhere: every setting through iscsiadm, in one call.
        let node = F.node()
        var configuration = F.configuration
        configuration.nodeDirectories = ["/var/lib/elsewhere/nodes"]
        let connector = KernelISCSIConnector(host: node.fake, configuration: configuration)
        let volume = try await connector.attach(F.request())
        #expect(volume.devicePath == "/dev/sdb")
        let updates = node.arguments(of: "iscsiadm").filter { $0.contains("update") }
        #expect(updates.count == 1)
        let names = updates.flatMap { arguments in arguments.indices.filter { arguments[$0] == "-n" }.map { arguments[$0 + 1] } }
        #expect(names == ["node.session.scan", "node.startup"])
        let record = String(decoding: try #require(node.fake.file("/etc/iscsi/nodes/\(F.iqn)/192.0.2.10,3260")).contents, as: UTF8.self)
        #expect(record.contains("node.session.scan = manual\n"))
    }

    @Test func aDiskTetherRulesNamedIsNotAskedAbout() async throws {
        // The by-tether link exists only for disks multipath leaves alone: no `multipath -c`.
        let node = F.node()
        let volume = try await F.connector(node).attach(F.request())
        #expect(volume.devicePath == "/dev/sdb")
        #expect(node.arguments(of: "multipath").isEmpty)
    }

    @Test func aClaimedDiskWithoutMultipathdIsUsedDirectly() async throws {
        let node = F.node()
        node.multipathClaimsEveryDisk = true
        node.multipathdRunning = false
        let volume = try await F.connector(node).attach(F.request())
        #expect(volume.devicePath == "/dev/sdb")
        #expect(node.arguments(of: "multipathd").allSatisfy { $0 == ["show", "status"] })
    }

    @Test func enforcedMultipathMakesAMapOfOnePath() async throws {
        let node = F.node()
        let volume = try await F.connector(node).attach(F.request(enforce: true))
        #expect(volume.devicePath == "/dev/dm-0")
    }

    @Test func expectedWWIDIsChecked() async throws {
        let node = F.node()
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(node).attach(F.request(extra: ["wwid": .string("3" + F.otherWWID.dropFirst(4))]))
        }
        #expect(error?.code == .iscsiWWIDMismatch)
        #expect(node.sessionCount == 0 && node.diskNames.isEmpty)
        let volume = try await F.connector(node).attach(F.request(extra: ["scsi_wwn": .string("3" + F.wwid.dropFirst(4))]))
        #expect(volume.wwid == F.wwid)
    }

    @Test func readOnlyLUNIsRefusedForReadWriteButServedReadOnly() async throws {
        let node = SimulatedNode()
        node.serve(F.portalA, F.iqn, lun: 1, .init(wwid: F.wwid, sizeBytes: F.size, readOnly: true))
        let error = await #expect(throws: TetherError.self) { try await F.connector(node).attach(F.request()) }
        #expect(error?.code == .conflict)
        #expect(node.sessionCount == 0)
        let volume = try await F.connector(node).attach(F.request(accessMode: .readOnly))
        #expect(volume.diskXML.contains("<readonly/>"))
        #expect(volume.qemuBlockdev["read-only"] == true)
    }

    @Test func discoveryFindsThePortalsWhenOnlyOneIsNamed() async throws {
        let node = F.node(portals: [F.portalA, F.portalB])
        let discovery = SendTargetsDiscovery { seed, _, _ in
            [ISCSIPath(portal: seed.portal, iqn: seed.iqn, lun: seed.lun), ISCSIPath(portal: try Portal(parsing: F.portalB), iqn: seed.iqn, lun: seed.lun)]
        }
        let info = ConnectionInfo(
            driverVolumeType: "iscsi", data: ["target_portal": .string(F.portalA), "target_iqn": .string(F.iqn), "target_lun": 1, "volume_id": "vol-1"])
        var request = F.request(multipath: true)
        request.connectionInfo = info
        let volume = try await F.connector(node, discovery: discovery).attach(request)
        #expect(volume.devicePath == "/dev/dm-0")
        #expect(volume.paths.count == 2)
    }
}
