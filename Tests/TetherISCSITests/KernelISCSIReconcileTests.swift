import TetherCore
@testable import TetherISCSI
import TetherMultipath
import Testing

@Suite struct KernelISCSIReconcileTests {
    typealias F = KernelFixtures
    static let stable = "/dev/disk/by-tether/vol-1"

    /// A volume attached over both portals into one map.
    func twoPaths() async throws -> (SimulatedNode, KernelISCSIConnector, AttachedVolume) {
        let node = F.node(portals: [F.portalA, F.portalB])
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request(portals: [F.portalA, F.portalB], multipath: true))
        return (node, connector, volume)
    }

    func logins(_ node: SimulatedNode) -> [String] {
        node.arguments(of: "iscsiadm").filter { $0.contains("--login") }.compactMap { arguments in
            arguments.firstIndex(of: "-p").map { arguments[$0 + 1] }
        }
    }

    @Test func freshAttachmentsAreHealthy() async throws {
        let (_, connector, volume) = try await twoPaths()
        let inspection = await connector.inspect(volume, attachmentID: "att-vol-1", heal: false)
        #expect(inspection.health == .healthy)
        #expect(inspection.problems.isEmpty)
        #expect(inspection.volume == volume)

        let single = F.node()
        let one = try await F.connector(single).attach(F.request())
        #expect(await F.connector(single).inspect(one, attachmentID: "att-vol-1", heal: false).health == .healthy)
    }

    @Test func aLostPathIsDegradedThenLoggedBackIntoTheMap() async throws {
        let (node, connector, volume) = try await twoPaths()
        node.dropSession(portal: F.portalB)

        let found = await connector.inspect(volume, attachmentID: "att-vol-1", heal: false)
        #expect(found.health == .degraded)
        #expect(found.problems == ["path \(F.portalB) \(F.iqn) lun 1: no session"])
        #expect(found.repairs.isEmpty)
        #expect(found.volume.paths.map(\.state) == ["active", "lost"])
        let loginsBefore = logins(node)

        let healed = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(healed.health == .healthy, "\(healed.problems)")
        #expect(healed.problems.isEmpty)
        // Exactly the lost portal was logged in to, and its new disk joined the same map.
        #expect(Array(logins(node).dropFirst(loginsBefore.count)) == [F.portalB])
        #expect(node.sessionCount == 2)
        #expect(node.mapCount == 1)
        let handle = try #require(healed.volume.handle.kernelISCSI)
        #expect(handle.multipath == volume.handle.kernelISCSI?.multipath)
        let newDevice = try #require(handle.sessions.last?.device)
        #expect(newDevice != volume.handle.kernelISCSI?.sessions.last?.device)
        #expect(try await node.fake.listDirectory("/sys/block/dm-0/slaves").contains(newDevice))
        #expect(healed.repairs.contains { $0.contains("logged in to \(F.portalB)") })
        #expect(healed.repairs.contains { $0.contains("back into map") })
        #expect(healed.volume.paths.map(\.state) == ["active", "active"])
        #expect(await connector.inspect(healed.volume, attachmentID: "att-vol-1", heal: false).health == .healthy)
    }

    @Test func aHealLeavesOtherTargetsSessionsAlone() async throws {
        let (node, connector, volume) = try await twoPaths()
        node.serve(F.portalB, Self.foreignIQN, lun: 0, .init(wwid: F.otherWWID, sizeBytes: F.size))
        node.simulateLogin(portal: F.portalB, iqn: Self.foreignIQN)
        node.dropSession(portal: F.portalB, iqn: F.iqn)
        let before = node.ranCommands.count

        let healed = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(healed.health == .healthy, "\(healed.problems)")
        #expect(node.sessionCount == 3)
        let touched = node.ranCommands.dropFirst(before).filter { $0.executable == "iscsiadm" && $0.arguments.contains(Self.foreignIQN) }
        #expect(touched.isEmpty)
        #expect(!node.fake.attributeWriteLog.contains { $0.path.hasSuffix("/scan") && $0.value.hasSuffix(" 0") })
    }

    @Test func allPathsGoneAfterARebootIsMissingThenHealedUnderTheSameName() async throws {
        let (node, connector, volume) = try await twoPaths()
        node.reboot()

        let found = await connector.inspect(volume, attachmentID: "att-vol-1", heal: false)
        #expect(found.health == .missing)
        #expect(found.problems.count == 3)
        #expect(found.problems.last?.hasPrefix("multipath map") == true)

        let healed = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(healed.health == .healthy, "\(healed.problems)")
        #expect(Set(logins(node).suffix(2)) == [F.portalA, F.portalB])
        let before = try #require(volume.handle.kernelISCSI)
        let after = try #require(healed.volume.handle.kernelISCSI)
        #expect(Set(after.sessions.compactMap(\.device)).isDisjoint(with: before.sessions.compactMap(\.device)))
        #expect(after.sessions.map(\.sid) != before.sessions.map(\.sid))
        #expect(after.multipath?.device != before.multipath?.device)
        #expect(after.stableName == Self.stable)
        #expect(healed.volume.devicePath == "/dev/\(after.multipath?.device ?? "-")")
        #expect(await node.fake.resolvePath(Self.stable) == healed.volume.devicePath)
        #expect(healed.repairs.contains { $0.hasPrefix("wrote the udev map file") })
        #expect(healed.repairs.contains { $0.hasPrefix("multipathd made map") })
    }

    @Test func aSinglePathComesBackAfterARebootWithANewDisk() async throws {
        let node = F.node()
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request())
        node.reboot()
        #expect(await connector.inspect(volume, attachmentID: "att-vol-1", heal: false).health == .missing)

        let healed = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(healed.health == .healthy, "\(healed.problems)")
        #expect(healed.volume.devicePath != volume.devicePath)
        #expect(await node.fake.resolvePath(Self.stable) == healed.volume.devicePath)
    }

    @Test func aCHAPPathWhoseNodeRecordIsGoneIsNotHealed() async throws {
        let node = F.node()
        node.requireCHAP(F.portalA, F.iqn, user: "chapuser", password: "s3cret-Pass")
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request(extra: F.chap(password: "s3cret-Pass")))
        #expect(volume.handle.kernelISCSI?.chap == true)
        node.dropSession(portal: F.portalA)
        node.deleteNodeRecord(portal: F.portalA, F.iqn)
        let loginsBefore = logins(node).count

        let inspection = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(inspection.health == .missing)
        #expect(inspection.repairs.allSatisfy { !$0.contains("logged in") })
        #expect(logins(node).count == loginsBefore)
        #expect(node.nodeRecords.isEmpty)
        #expect(inspection.problems.contains { $0.contains("not healed") && $0.contains("CHAP") && $0.contains("hint:") })
    }

    @Test func aCHAPPathWithItsNodeRecordLogsInWithIt() async throws {
        let node = F.node()
        node.requireCHAP(F.portalA, F.iqn, user: "chapuser", password: "s3cret-Pass")
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request(extra: F.chap(password: "s3cret-Pass")))
        node.dropSession(portal: F.portalA)

        let inspection = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(inspection.health == .healthy, "\(inspection.problems)")
    }

    @Test func aPathWithoutCHAPGetsItsNodeRecordBack() async throws {
        let (node, connector, volume) = try await twoPaths()
        node.dropSession(portal: F.portalB)
        node.deleteNodeRecord(portal: F.portalB, F.iqn)

        let inspection = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(inspection.health == .healthy, "\(inspection.problems)")
        #expect(inspection.repairs.contains { $0.contains("node record made again") })
        #expect(node.nodeRecords.count == 2)
    }

    @Test func aFailedCheckIsUnknown() async throws {
        let (node, connector, volume) = try await twoPaths()
        node.multipathdRunning = false

        let inspection = await connector.inspect(volume, attachmentID: "att-vol-1", heal: false)
        #expect(inspection.health == .unknown)
        #expect(inspection.problems.count == 1)
        #expect(inspection.problems.first?.hasPrefix("cannot ask multipathd") == true)
    }

    @Test func aPathFailedInTheMapIsDegraded() async throws {
        let (node, connector, volume) = try await twoPaths()
        let device = try #require(volume.handle.kernelISCSI?.sessions.last?.device)
        node.failInMap(device)

        let inspection = await connector.inspect(volume, attachmentID: "att-vol-1", heal: false)
        #expect(inspection.health == .degraded)
        #expect(inspection.problems == ["path \(F.portalB) \(F.iqn) lun 1: \(device) is failed in multipath map 3\(F.wwid.dropFirst(4)) (checker: faulty)"])
    }

    @Test func aGoneStableNameIsDegradedAndNamedAgain() async throws {
        let node = F.node()
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request())
        node.fake.removeTree(Self.stable)

        let found = await connector.inspect(volume, attachmentID: "att-vol-1", heal: false)
        #expect(found.health == .degraded)
        #expect(found.problems == ["stable name \(Self.stable) is gone; the device is there"])

        let healed = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(healed.health == .healthy, "\(healed.problems)")
        #expect(healed.repairs == ["udev named /dev/sdb \(Self.stable) again"])
    }

    @Test func aLUNWithAnotherWWIDIsLeftAlone() async throws {
        let node = F.node()
        let connector = F.connector(node)
        let volume = try await connector.attach(F.request())
        node.reboot()
        node.serve(F.portalA, F.iqn, lun: 1, .init(wwid: F.otherWWID, sizeBytes: F.size))

        let healed = await connector.inspect(volume, attachmentID: "att-vol-1", heal: true)
        #expect(healed.health == .missing)
        #expect(healed.problems.contains { $0.contains("another volume") })
        #expect(node.sessionCount == 0)
        #expect(node.diskNames.isEmpty)
    }

    // MARK: - Orphans

    static let otherIQN = "iqn.2003-01.org.linux-iscsi.storage:vol2"
    static let foreignIQN = "iqn.2003-01.org.example:not-tethers"

    @Test func aTetherLUNNoAttachmentHasIsAnOrphanAndRemoved() async throws {
        let node = F.node()
        node.serve(F.portalB, Self.otherIQN, lun: 1, .init(wwid: F.otherWWID, sizeBytes: F.size))
        node.serve(F.portalB, Self.foreignIQN, lun: 0, .init(wwid: F.otherWWID, sizeBytes: F.size))
        let connector = F.connector(node)
        let kept = try await connector.attach(F.request())
        let forgotten = try await connector.attach(F.request(portals: [F.portalB], volume: "vol-2", extra: ["target_iqns": .array([.string(Self.otherIQN)])]))
        // Someone else's session to another target, without Tether's marks.
        node.simulateLogin(portal: F.portalB, iqn: Self.foreignIQN)

        #expect(try await connector.orphans(known: [kept, forgotten]).isEmpty)
        let orphans = try await connector.orphans(known: [kept])
        #expect(orphans.map(\.kind) == [.iscsiSession])
        #expect(orphans.first?.name == "\(F.portalB) \(Self.otherIQN) lun 1")
        #expect(orphans.first?.detail.contains("vol-2") == true)

        try await connector.remove(try #require(orphans.first))
        #expect(node.sessionCount == 2)
        #expect(node.nodeRecords == ["\(F.portalA) \(F.iqn)", "\(F.portalB) \(Self.foreignIQN)"])
        #expect(try await connector.orphans(known: [kept]).isEmpty)
        #expect(await connector.inspect(kept, attachmentID: "att-vol-1", heal: false).health == .healthy)
    }

    @Test func aSessionWithoutLUNsIsAnOrphanOnlyWithTetherSettings() async throws {
        let node = F.node()
        node.serve(F.portalB, Self.foreignIQN, lun: 0, .init(wwid: F.otherWWID, sizeBytes: F.size))
        let connector = F.connector(node)
        // An attach cut off after its login, its record set up as Tether sets records; and an
        // operator's session whose record has open-iscsi's defaults.
        node.simulateLogin(portal: F.portalA, iqn: F.iqn)
        node.fake.setFile(
            "/etc/iscsi/nodes/\(F.iqn)/192.0.2.10,3260", "# BEGIN RECORD 2.1.9\nnode.name = \(F.iqn)\nnode.session.scan = manual\nnode.startup = manual\n# END RECORD\n")
        node.simulateLogin(portal: F.portalB, iqn: Self.foreignIQN)

        let orphans = try await connector.orphans(known: [])
        #expect(orphans.map(\.name) == ["\(F.portalA) \(F.iqn)"])
        // Known through an unfinished attach's paths: not an orphan.
        let interrupted = connector.interruptedAttach(F.request())
        #expect(try await connector.orphans(known: [interrupted]).isEmpty)

        // Reported only: os-brick's records carry node.session.scan=manual too, so a session
        // without LUNs is never logged out by --clean.
        let refusal = await #expect(throws: TetherError.self) { try await connector.remove(try #require(orphans.first)) }
        #expect(refusal?.code == .unsupported)
        #expect(node.sessionCount == 2)
    }

    @Test func aMapWithoutPathsOfAnUnknownVolumeIsAnOrphan() async throws {
        let (node, connector, volume) = try await twoPaths()
        node.dropSession(portal: F.portalA)
        node.dropSession(portal: F.portalB)
        #expect(node.mapCount == 1)
        #expect(try await connector.orphans(known: [volume]).isEmpty)

        let orphans = try await connector.orphans(known: [])
        #expect(orphans.map(\.kind) == [.multipathMap])
        try await connector.remove(try #require(orphans.first))
        #expect(node.mapCount == 0)
        #expect(!node.fake.filePaths.contains { $0.hasPrefix("/run/tether/by-wwid/") })
        #expect(try await connector.orphans(known: []).isEmpty)
    }

    @Test func aMapFileOfAnUnknownVolumeWithoutDisksIsAnOrphan() async throws {
        let node = F.node()
        let connector = F.connector(node)
        node.fake.setFile("/run/tether/by-wwid/3" + F.otherWWID.dropFirst(4), "TETHER_VOLUME_ID=gone\n")
        node.fake.setFile("/run/tether/by-wwid/rbd:abc%2Fpool%2Fimage", "TETHER_VOLUME_ID=gone\n")
        let orphans = try await connector.orphans(known: [])
        #expect(orphans.map(\.kind) == [.mapFile])
        try await connector.remove(try #require(orphans.first))
        #expect(node.fake.file("/run/tether/by-wwid/3" + F.otherWWID.dropFirst(4)) == nil)
        #expect(node.fake.file("/run/tether/by-wwid/rbd:abc%2Fpool%2Fimage") != nil)
    }
}
