import Foundation
import TetherCeph
import TetherCore
import TetherRBD
import TetherFakes
import Testing

@Suite struct KernelRBDReconcileTests {
    typealias F = KRBDFixtures
    static let stableA = "/dev/rbd/ceph-a/volumes/volume-1"
    static let mapFileA = StableNames.mapFile(key: "rbd:\(F.fsidA)/volumes/volume-1")
    static let mapFileB = StableNames.mapFile(key: "rbd:\(F.fsidB)/volumes/volume-1")

    /// `echo N > /sys/bus/rbd/remove_single_major`, by hand.
    static func unmapByHand(_ kernel: FakeKRBD, _ id: Int) async throws {
        try await kernel.host.writeAttribute("/sys/bus/rbd/remove_single_major", "\(id)")
    }

    @Test func aMappedVolumeIsHealthy() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        let inspection = await connector.inspect(volume, attachmentID: "att-vol-a", heal: false)
        #expect(inspection.health == .healthy)
        #expect(inspection.problems.isEmpty)
        #expect(inspection.volume == volume)
    }

    @Test func unmappedByHandIsMissingThenMappedAgainUnderTheSameNames() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        try await Self.unmapByHand(kernel, 0)

        let look = await connector.inspect(volume, attachmentID: "att-vol-a", heal: false)
        #expect(look.health == .missing)
        #expect(look.problems.count == 1)
        #expect(kernel.mappedIDs.isEmpty)

        let healed = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(healed.health == .healthy)
        #expect(healed.problems.isEmpty)
        #expect(healed.repairs.count == 1)
        #expect(kernel.addLines.count == 2)
        #expect(kernel.addLines.last == kernel.addLines.first)
        #expect(await kernel.host.resolvePath(Self.stableA) == "/dev/rbd0")
        #expect(await kernel.host.resolvePath("/dev/disk/by-tether/vol-a") == "/dev/rbd0")
        #expect(healed.volume == volume)
    }

    /// The reboot: no mapping, no map file (tmpfs), no rbd driver until `modprobe rbd` loads it.
    static func reboot(_ kernel: FakeKRBD) async throws {
        for id in kernel.mappedIDs { try await unmapByHand(kernel, id) }
        kernel.host.removeTree(StableNames.defaultMapDirectory)
        kernel.host.removeTree("/sys/bus/rbd")
        let host = kernel.host
        host.onRun { command in
            guard command.executable == "modprobe" else { return CommandResult(exitCode: 1) }
            host.makeDirectory("/sys/bus/rbd")
            host.makeDirectory("/sys/bus/rbd/devices")
            host.setFile("/sys/bus/rbd/add_single_major", "", mode: 0o200)
            host.setFile("/sys/bus/rbd/remove_single_major", "", mode: 0o200)
            return CommandResult(exitCode: 0)
        }
    }

    @Test func afterARebootHealingLoadsTheDriverAndMaps() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        try await Self.reboot(kernel)

        let look = await connector.inspect(volume, attachmentID: "att-vol-a", heal: false)
        #expect(look.health == .missing)
        #expect(look.problems.first?.contains("not loaded") == true)
        #expect(kernel.host.ranCommands.isEmpty)

        let healed = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(healed.health == .healthy)
        #expect(kernel.host.ranCommands.map(\.description) == ["modprobe rbd"])
        #expect(healed.volume == volume)
        #expect(await kernel.host.resolvePath("/dev/disk/by-tether/vol-a") == "/dev/rbd0")
    }

    @Test func afterARebootTheImageIsMappedAgainUnderAnotherNumber() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(volume.devicePath == "/dev/rbd0")
        try await Self.reboot(kernel)
        let host = kernel.host
        // Another mapping came first and took rbd0: ceph-b's image of the same name, by hand.
        _ = try await host.run(Command("modprobe", ["rbd"]))
        try await host.writeAttribute("/sys/bus/rbd/add_single_major", "198.51.100.7:6789 name=cinder,secret=\(F.keyB) volumes volume-1 -")

        let healed = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(healed.health == .healthy)
        #expect(healed.problems.isEmpty)
        #expect(healed.volume.devicePath == "/dev/rbd1")
        #expect(healed.volume.handle.kernelRBD?.deviceID == 1)
        #expect(healed.volume.handle.kernelRBD?.stableName == Self.stableA)
        #expect(healed.volume.diskXML == volume.diskXML)
        #expect(await host.resolvePath(Self.stableA) == "/dev/rbd1")
        #expect(await host.resolvePath("/dev/disk/by-tether/vol-a") == "/dev/rbd1")
        #expect(host.file(Self.mapFileA) != nil)

        // Found as it is now: healthy without healing, and detach unmaps the new number.
        #expect(await connector.inspect(healed.volume, attachmentID: "att-vol-a", heal: false).health == .healthy)
        try await connector.detach(healed.volume, attachmentID: "att-vol-a", force: false)
        #expect(kernel.mappedIDs == [0])
    }

    @Test func aMappingUnderAnotherNumberIsFoundWithoutHealing() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        _ = try await connector.attach(F.request(cluster: "ceph-b", volume: "vol-b"))
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(volume.devicePath == "/dev/rbd1")
        var journaled = volume
        if case .kernelRBD(var handle) = volume.handle {
            handle.deviceID = 0
            handle.device = "/dev/rbd0"
            journaled.handle = .kernelRBD(handle)
            journaled.devicePath = "/dev/rbd0"
        }
        let inspection = await connector.inspect(journaled, attachmentID: "att-vol-a", heal: false)
        #expect(inspection.health == .healthy)
        #expect(inspection.volume.devicePath == "/dev/rbd1")
        #expect(inspection.volume.handle.kernelRBD?.deviceID == 1)
    }

    @Test func withoutStableNamesTheDiskDescriptionsFollowTheNewNumber() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel, requireStableNames: false)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(volume.diskXML.contains("<source dev='/dev/rbd0'/>"))
        try await Self.unmapByHand(kernel, 0)
        try await kernel.host.writeAttribute("/sys/bus/rbd/add_single_major", "198.51.100.7:6789 name=cinder,secret=\(F.keyB) volumes volume-1 -")

        let healed = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(healed.health == .healthy)
        #expect(healed.volume.devicePath == "/dev/rbd1")
        #expect(healed.volume.diskXML == volume.diskXML.replacingOccurrences(of: "/dev/rbd0", with: "/dev/rbd1"))
        #expect(healed.volume.qemuBlockdev["file"]?["filename"]?.stringValue == "/dev/rbd1")
    }

    @Test func aClusterNoLongerRegisteredIsNotHealed() async throws {
        let kernel = try await F.kernel()
        let volume = try await F.connector(kernel).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        try await Self.unmapByHand(kernel, 0)
        try await kernel.host.removeFile("\(F.registryDirectory)/clusters.d/ceph-a.toml")
        let connector = try await F.connector(kernel)

        let inspection = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(inspection.health == .missing)
        #expect(inspection.repairs.isEmpty)
        #expect(inspection.problems.count == 2)
        #expect(inspection.problems.last?.hasPrefix("not healed: cluster ceph-a (fsid \(F.fsidA)) is no longer registered") == true)
        #expect(inspection.problems.last?.contains("register it again") == true)
        #expect(kernel.addLines.count == 1)
        #expect(kernel.host.file(Self.mapFileA) != nil)
    }

    @Test func anUnreachableClusterIsNotHealedAndLeavesNothing() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        try await Self.unmapByHand(kernel, 0)
        kernel.refuseNextAdd(ETIMEDOUT)

        let inspection = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(inspection.health == .missing)
        #expect(inspection.problems.last?.hasPrefix("not healed: ") == true)
        #expect(kernel.mappedIDs.isEmpty)
    }

    @Test func lostNamesAreMadeAgain() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        kernel.host.onAttributeWrite("/sys/block/rbd0/uevent") { [kernel] value in
            if value == "change" { kernel.runUdev(0, rules: true) }
        }
        try await kernel.host.removeFile(Self.mapFileA)
        kernel.host.removeTree("/dev/disk/by-tether/vol-a")

        let look = await connector.inspect(volume, attachmentID: "att-vol-a", heal: false)
        #expect(look.health == .degraded)
        #expect(look.problems.count == 2)

        let healed = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(healed.health == .healthy)
        #expect(healed.repairs.count == 1)
        #expect(kernel.addLines.count == 1)
        #expect(await kernel.host.resolvePath("/dev/disk/by-tether/vol-a") == "/dev/rbd0")
    }

    @Test func aReadOnlyStateThatDiffersIsReportedNotChanged() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        kernel.host.setFile("/sys/block/rbd0/ro", "1\n")
        let inspection = await connector.inspect(volume, attachmentID: "att-vol-a", heal: true)
        #expect(inspection.health == .degraded)
        #expect(inspection.problems.first?.contains("read-only") == true)
        #expect(kernel.addLines.count == 1)
        #expect(kernel.mappedIDs == [0])
    }

    @Test func aMappingWhoseClusterCannotBeFoundIsUnknown() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        _ = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        // An interrupted attach whose cluster is no longer registered: which mapping is its own?
        let partial = connector.interruptedAttach(F.request(cluster: "ceph-x", volume: "vol-a"))
        let inspection = await connector.inspect(partial, attachmentID: "att-vol-a", heal: true)
        #expect(inspection.health == .unknown)
        #expect(kernel.addLines.count == 1)
    }
}

extension KernelRBDReconcileTests {
    @Test func anOrphanMappingAndAStaleMapFileAreReportedAndRemoved() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let a = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        _ = try await connector.attach(F.request(cluster: "ceph-b", volume: "vol-b"))  // then "forgotten" by the journal
        let stale = StableNames.mapFile(key: "rbd:\(F.fsidA)/volumes/volume-9")
        kernel.host.setFile(stale, StableNames.mapFileContents(volumeID: "vol-9"))

        let orphans = try await connector.orphans(known: [a])
        #expect(orphans.map(\.kind) == [.krbdMapping, .mapFile])
        #expect(orphans.first?.name == "1:rbd:\(F.fsidB)/volumes/volume-1")
        #expect(orphans.first?.detail.contains("/dev/disk/by-tether/vol-b") == true)
        #expect(orphans.last?.name == stale)

        for orphan in orphans {
            try await connector.remove(orphan)
        }
        #expect(kernel.mappedIDs == [0])
        #expect(kernel.host.file(Self.mapFileB) == nil)
        #expect(kernel.host.file(stale) == nil)
        #expect(kernel.host.file(Self.mapFileA) != nil)
        #expect(kernel.host.attributeWriteLog.last?.value == "1")
        #expect(try await connector.orphans(known: [a]).isEmpty)
    }

    @Test func anotherClustersMappingOfTheSameImageIsNoOrphan() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let a = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        // `rbd map` by someone else: no map file, no by-tether name.
        try await kernel.host.writeAttribute("/sys/bus/rbd/add_single_major", "198.51.100.7:6789 name=cinder,secret=\(F.keyB) volumes volume-1 -")
        #expect(kernel.mappedIDs == [0, 1])
        #expect(try await connector.orphans(known: [a]).isEmpty)
        #expect(try await connector.orphans(known: []).map(\.name) == ["0:rbd:\(F.fsidA)/volumes/volume-1"])
    }

    @Test func anAttachInFlightIsNoOrphan() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let request = F.request(cluster: "ceph-b", volume: "vol-b")
        _ = try await connector.attach(request)  // its result not journaled yet
        let inFlight = connector.interruptedAttach(request)
        #expect(try await connector.orphans(known: [inFlight]).isEmpty)
        // Earlier in its attach: the map file written, nothing mapped yet.
        try await Self.unmapByHand(kernel, 0)
        #expect(kernel.host.file(Self.mapFileB) != nil)
        #expect(try await connector.orphans(known: [inFlight]).isEmpty)
        #expect(try await connector.orphans(known: []).map(\.kind) == [.mapFile])
    }

    @Test func aMappingThatChangedSinceItWasReportedIsLeft() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        _ = try await connector.attach(F.request(cluster: "ceph-b", volume: "vol-b"))
        let orphan = try #require(try await connector.orphans(known: []).first)
        try await Self.unmapByHand(kernel, 0)
        _ = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        let error = await #expect(throws: TetherError.self) { try await connector.remove(orphan) }
        #expect(error?.code == .conflict)
        #expect(kernel.mappedIDs == [0])

        let wrongPlace = Orphan(kind: .mapFile, name: "/etc/passwd", detail: "")
        let refused = await #expect(throws: TetherError.self) { try await connector.remove(wrongPlace) }
        #expect(refused?.code == .invalidInput)
    }
}
