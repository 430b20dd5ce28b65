import Foundation
import TetherCeph
import TetherCore
import TetherRBD
import TetherFakes
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KernelRBDConnectorTests {
    typealias F = KRBDFixtures

    @Test func twoClustersWithTheSameImageGetTwoDevicesAndTwoNames() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let a = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        let b = try await connector.attach(F.request(cluster: "ceph-b", volume: "vol-b"))

        #expect(kernel.mappedIDs == [0, 1])
        #expect(a.devicePath == "/dev/rbd0")
        #expect(b.devicePath == "/dev/rbd1")
        #expect(a.handle.kernelRBD?.stableName == "/dev/rbd/ceph-a/volumes/volume-1")
        #expect(b.handle.kernelRBD?.stableName == "/dev/rbd/ceph-b/volumes/volume-1")
        #expect(await kernel.host.resolvePath("/dev/rbd/ceph-a/volumes/volume-1") == "/dev/rbd0")
        #expect(await kernel.host.resolvePath("/dev/rbd/ceph-b/volumes/volume-1") == "/dev/rbd1")
        #expect(await kernel.host.resolvePath("/dev/disk/by-tether/vol-b") == "/dev/rbd1")
        #expect(a.sizeBytes == F.imageBytes)
        #expect(b.sizeBytes == 2 * F.imageBytes)
        #expect(a.handle.kernelRBD?.fsid == F.fsidA)
        #expect(a.diskXML.contains("<disk type='block' device='disk'>"))
        #expect(a.diskXML.contains("<source dev='/dev/rbd/ceph-a/volumes/volume-1'/>"))
        #expect(a.qemuBlockdev["file"]?["driver"]?.stringValue == "host_device")
        #expect(a.qemuBlockdev["file"]?["filename"]?.stringValue == "/dev/rbd/ceph-a/volumes/volume-1")
        #expect(a.secretFiles.isEmpty)

        try await connector.detach(b, attachmentID: "att-vol-b", force: false)
        #expect(kernel.mappedIDs == [0])
        #expect(await kernel.host.resolvePath("/dev/rbd/ceph-a/volumes/volume-1") == "/dev/rbd0")
        #expect(await kernel.host.resolvePath("/dev/rbd/ceph-b/volumes/volume-1") == nil)
        #expect(kernel.host.file(StableNames.mapFile(key: "rbd:\(F.fsidB)/volumes/volume-1")) == nil)
        #expect(kernel.host.file(StableNames.mapFile(key: "rbd:\(F.fsidA)/volumes/volume-1")) != nil)
    }

    @Test func theAddLineIsWhatKrbdWrites() async throws {
        let kernel = try await F.kernel()
        _ = try await F.connector(kernel).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(kernel.addLines == ["192.0.2.21:6789 name=cinder,secret=\(F.keyA),mount_timeout=5 volumes volume-1 -"])
    }

    @Test func attachingAgainFindsTheMapping() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let first = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        let second = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(first == second)
        #expect(kernel.addLines.count == 1)
        #expect(kernel.mappedIDs == [0])
    }

    @Test func anAdoptedMappingWithoutLinksMakesUdevRunTheRulesAgain() async throws {
        let kernel = try await F.kernel()
        kernel.udev = .withoutTetherRules
        kernel.host.onAttributeWrite("/sys/block/rbd0/uevent") { [kernel] value in
            if value == "change" { kernel.runUdev(0, rules: true) }
        }
        let unnamed = try await F.connector(kernel, requireStableNames: false)
        _ = try await unnamed.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(await kernel.host.resolvePath("/dev/rbd/ceph-a/volumes/volume-1") == nil)

        let volume = try await F.connector(kernel).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(await kernel.host.resolvePath("/dev/rbd/ceph-a/volumes/volume-1") == "/dev/rbd0")
        #expect(volume.devicePath == "/dev/rbd0")
        #expect(kernel.addLines.count == 1)
    }

    @Test func theKeyIsOnlyInTheAddWrite() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        kernel.refuseNextAdd(EACCES)
        let error = await #expect(throws: TetherError.self) { try await connector.attach(F.request(cluster: "ceph-b", volume: "vol-b")) }
        try await connector.detach(volume, attachmentID: "att-vol-a", force: false)

        let writes = kernel.host.attributeWriteLog.filter { $0.value.contains(F.keyA) || $0.value.contains(F.keyB) }
        #expect(writes.map(\.path) == ["/sys/bus/rbd/add_single_major", "/sys/bus/rbd/add_single_major"])
        let encoded = String(decoding: try JSONEncoder().encode(volume), as: UTF8.self)
        var texts = [encoded, "\(error!)", error!.hint ?? "", "\(String(describing: error!.cause))"]
        texts += kernel.host.ranCommands.map(\.description)
        texts += kernel.host.filePaths.filter { !$0.hasPrefix("/etc/tether/keys/") && !$0.hasSuffix("/config_info") }
            .compactMap { kernel.host.file($0).map { String(decoding: $0.contents, as: UTF8.self) } }
        for text in texts {
            #expect(!text.contains(F.keyA) && !text.contains(F.keyB))
        }
    }

    @Test func aHostThatQuotesTheLineGetsRedacted() async throws {
        let kernel = try await F.kernel()
        kernel.host.onAttributeWrite("/sys/bus/rbd/add_single_major") { line in
            throw TetherError(.hostCommandFailed, "write of \"\(line)\" failed")
        }
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(kernel).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        }
        #expect(error?.message.contains(F.keyA) == false)
        #expect(error?.message.contains("secret=<redacted>") == true)
    }

    @Test func readOnlyMapsWithRo() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a", accessMode: .readOnly))
        #expect(kernel.addLines.first?.contains(",mount_timeout=5,ro volumes") == true)
        #expect(volume.diskXML.contains("<readonly/>"))
        #expect(volume.qemuBlockdev["read-only"] == .bool(true))
        #expect(volume.handle.kernelRBD?.readOnly == true)

        let error = await #expect(throws: TetherError.self) { try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a")) }
        #expect(error?.code == .conflict)
    }

    @Test(arguments: [
        (ENOENT, TetherError.Code.notFound), (EACCES, .cephDenied), (EPERM, .cephDenied), (ETIMEDOUT, .cephUnreachable),
        (EIO, .cephUnreachable), (ENXIO, .unsupported), (EINVAL, .cephFailed),
    ] as [(Int32, TetherError.Code)])
    func aRefusedMapIsAClearErrorAndLeavesNothing(code: Int32, expected: TetherError.Code) async throws {
        let kernel = try await F.kernel()
        kernel.refuseNextAdd(code)
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(kernel).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        }
        #expect(error?.code == expected)
        #expect(error?.hint != nil)
        #expect(kernel.mappedIDs.isEmpty)
        #expect(kernel.host.filePaths.filter { $0.hasPrefix(StableNames.defaultMapDirectory) }.isEmpty)
    }

    @Test func aMissingImageIsNotFound() async throws {
        let kernel = try await F.kernel()
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(kernel).attach(F.request(cluster: "ceph-a", volume: "vol-x", image: "volume-404"))
        }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("volumes/volume-404") == true)
    }

    @Test func aDeviceThatNeverAppearsTimesOutAndIsUnmapped() async throws {
        let kernel = try await F.kernel()
        kernel.udev = .absent
        let connector = try await F.connector(kernel, timeouts: KRBDTimeouts(connect: .seconds(5), device: .milliseconds(300), unmap: .seconds(5)))
        let error = await #expect(throws: TetherError.self) { try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a")) }
        #expect(error?.code == .timedOut)
        #expect(error?.message.contains("/dev/rbd0 did not appear") == true)
        #expect(kernel.mappedIDs.isEmpty)
        #expect(kernel.host.attributeWriteLog.last?.value == "0 force")
        #expect(kernel.host.filePaths.filter { $0.hasPrefix(StableNames.defaultMapDirectory) }.isEmpty)
    }

    @Test func missingRulesTimeOutWithAHintAndWithoutStableNamesTheNodeIsUsed() async throws {
        let kernel = try await F.kernel()
        kernel.udev = .withoutTetherRules
        let strict = try await F.connector(kernel, timeouts: KRBDTimeouts(connect: .seconds(5), device: .milliseconds(300), unmap: .seconds(5)))
        let error = await #expect(throws: TetherError.self) { try await strict.attach(F.request(cluster: "ceph-a", volume: "vol-a")) }
        #expect(error?.message.contains("udev did not link /dev/rbd/ceph-a/volumes/volume-1") == true)
        #expect(error?.hint?.contains("60-tether-rbd.rules") == true)
        #expect(kernel.mappedIDs.isEmpty)

        let volume = try await F.connector(kernel, requireStableNames: false).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(volume.diskXML.contains("<source dev='/dev/rbd0'/>"))
    }

    @Test func theWaitEndsOnUdevsEvent() async throws {
        let kernel = try await F.kernel()
        kernel.udev = .delayed(.milliseconds(200))
        let volume = try await F.connector(kernel).attach(F.request(cluster: "ceph-b", volume: "vol-b"))
        #expect(volume.devicePath == "/dev/rbd0")
        #expect(volume.handle.kernelRBD?.byTether == "/dev/disk/by-tether/vol-b")
    }

    @Test func monitorsOfAnotherClusterAreCaughtAndTheirMappingUndone() async throws {
        let kernel = try await F.kernel()
        kernel.serve(monitor: F.monitorA, fsid: "11111111-2222-4333-8444-555555555555", user: "cinder", key: F.keyA, images: ["volumes/volume-1": F.imageBytes])
        let error = await #expect(throws: TetherError.self) {
            try await F.connector(kernel).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("11111111-2222-4333-8444-555555555555") == true)
        #expect(kernel.mappedIDs.isEmpty)
    }

    @Test func detachingWhatIsGoneSucceeds() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        try await connector.detach(volume, attachmentID: "att-vol-a", force: false)
        try await connector.detach(volume, attachmentID: "att-vol-a", force: false)
        #expect(kernel.mappedIDs.isEmpty)
    }

    @Test func detachUsesTheIdentityNotTheStoredNumber() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let a = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        // "After a reboot": ceph-a's image is now rbd1 and rbd0 is ceph-b's.
        try await connector.detach(a, attachmentID: "att-vol-a", force: false)
        _ = try await connector.attach(F.request(cluster: "ceph-b", volume: "vol-b"))
        _ = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        #expect(a.handle.kernelRBD?.deviceID == 0)
        try await connector.detach(a, attachmentID: "att-vol-a", force: false)
        #expect(kernel.mappedIDs == [0])
        #expect(kernel.host.file("/sys/bus/rbd/devices/0/cluster_fsid").map { String(decoding: $0.contents, as: UTF8.self) } == "\(F.fsidB)\n")
    }

    @Test func anOpenDeviceNeedsForce() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        kernel.setBusy(0)
        let error = await #expect(throws: TetherError.self) { try await connector.detach(volume, attachmentID: "att-vol-a", force: false) }
        #expect(error?.code == .conflict)
        #expect(kernel.mappedIDs == [0])
        try await connector.detach(volume, attachmentID: "att-vol-a", force: true)
        #expect(kernel.mappedIDs.isEmpty)
        #expect(kernel.host.attributeWriteLog.last?.value == "0 force")
    }

    @Test func anInterruptedAttachIsUndoneByIdentity() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        _ = try await connector.attach(F.request(cluster: "ceph-b", volume: "vol-b"))
        let request = F.request(cluster: "ceph-a", volume: "vol-a")
        _ = try await connector.attach(request)  // the result "never reached the journal"

        let partial = connector.interruptedAttach(request)
        #expect(partial.mode == .kernel)
        #expect(partial.handle.kernelRBD?.pool == "volumes")
        #expect(partial.handle.kernelRBD?.image == "volume-1")
        #expect(partial.handle.kernelRBD?.cluster == "ceph-a")
        try await connector.detach(partial, attachmentID: request.attachmentID, force: true)
        #expect(kernel.mappedIDs == [0])
        #expect(kernel.host.file("/sys/bus/rbd/devices/0/cluster_fsid").map { String(decoding: $0.contents, as: UTF8.self) } == "\(F.fsidB)\n")

        // Cut off before anything was mapped: nothing to do, and no error.
        try await connector.detach(connector.interruptedAttach(F.request(cluster: "ceph-a", volume: "vol-a")), attachmentID: "x", force: true)
    }

    @Test func extendReadsTheNewSize() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        kernel.resize(0, to: 3 * F.imageBytes)
        #expect(try await connector.extend(volume, attachmentID: "att-vol-a") == 3 * F.imageBytes)
    }

    @Test func anUnloadedDriverIsUnsupported() async throws {
        let host = FakeHost()
        try await host.writeFile("/etc/tether/clusters.d/ceph-a.toml", contents: Array("fsid = \"\(F.fsidA)\"\nmon_host = \"192.0.2.21:6789\"\n[user.cinder]\n".utf8), mode: 0o644)
        try await host.writeFile("/etc/tether/keys/ceph-a.client.cinder.key", contents: Array(F.keyA.utf8), mode: 0o600)
        host.script("modprobe", exit: 1, stderr: "modprobe: FATAL: Module rbd not found")
        let registry = try await CephRegistry.load(directory: "/etc/tether", host: host, inspector: FakeHostInspector(host: host))
        let error = await #expect(throws: TetherError.self) {
            try await KernelRBDConnector(host: host, registry: { registry }).attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        }
        #expect(error?.code == .unsupported)
        #expect(host.ranCommands.map(\.description) == ["modprobe rbd"])
    }
}

extension KernelRBDConnectorTests {
    @Test func aRefreshTheKernelRefusesFailsTheExtend() async throws {
        let kernel = try await F.kernel()
        let connector = try await F.connector(kernel)
        let volume = try await connector.attach(F.request(cluster: "ceph-a", volume: "vol-a"))
        kernel.host.onAttributeWrite("/sys/bus/rbd/devices/0/refresh") { _ in throw FakeKRBD.refused("/sys/bus/rbd/devices/0/refresh", ETIMEDOUT) }
        let error = await #expect(throws: TetherError.self) { try await connector.extend(volume, attachmentID: "att-vol-a") }
        #expect(error?.code == .cephUnreachable)
    }
}
