import Foundation
import TetherCore

/// The kernel rbd driver's sysfs interface (Documentation/ABI/testing/sysfs-bus-rbd), read and
/// written through `Host`.
///
/// It never reads a device's `config_info`: that holds the add string, secret included.
struct KRBDSysfs {
    static let bus = "/sys/bus/rbd"
    static let devices = "/sys/bus/rbd/devices"

    /// One mapping as sysfs shows it.
    struct Device: Sendable, Hashable {
        var id: Int
        var spec: KRBDImageSpec
        var major: Int
        /// Missing on kernels without single-major support.
        var minor: Int?
        var clientID: String?
        var clientAddress: String?

        /// `rbd<id>`: the block device, under /sys/block and /dev.
        var blockName: String { "rbd\(id)" }
        var devicePath: String { "/dev/\(blockName)" }
        var blockDirectory: String { "/sys/block/\(blockName)" }
        var directory: String { "\(KRBDSysfs.devices)/\(id)" }
    }

    let host: any TetherCore.Host

    var isLoaded: Bool {
        get async { await host.fileExists(Self.bus) }
    }

    /// `add_single_major` or `remove_single_major` when the driver has them, else `add` or `remove`:
    /// with single-major on, the kernel disables the plain ones (krbd.cc `sysfs_write_rbd`).
    func controlFile(_ action: String) async -> String {
        let single = "\(Self.bus)/\(action)_single_major"
        return await host.fileExists(single) ? single : "\(Self.bus)/\(action)"
    }

    func deviceIDs() async throws -> [Int] {
        try await host.listDirectory(Self.devices).compactMap { Int($0) }.sorted()
    }

    /// The mapping with `id`, nil when it is gone or still half made (no pool or image yet).
    func device(_ id: Int) async -> Device? {
        let directory = "\(Self.devices)/\(id)"
        func attribute(_ name: String) async -> String? {
            guard let text = try? await host.read("\(directory)/\(name)") else { return nil }
            return text.trimmingCharacters(in: .newlines)
        }
        guard let fsid = await attribute("cluster_fsid"), let pool = await attribute("pool"), let image = await attribute("name"),
            let major = await attribute("major").flatMap({ Int($0) })
        else { return nil }
        // pool_ns is missing on kernels before namespaces (4.19): those map only the default one.
        let spec = KRBDImageSpec(
            fsid: fsid, pool: pool, namespace: await attribute("pool_ns") ?? "", image: image,
            snapshot: await attribute("current_snap") ?? KRBDImageSpec.headSnapshot)
        return Device(
            id: id, spec: spec, major: major, minor: await attribute("minor").flatMap { Int($0) },
            clientID: await attribute("client_id"), clientAddress: await attribute("client_addr"))
    }

    /// Every mapping of `spec`, lowest id first.
    func devices(matching spec: KRBDImageSpec) async throws -> [Device] {
        var found: [Device] = []
        for id in try await deviceIDs() {
            if let device = await device(id), device.spec == spec { found.append(device) }
        }
        return found
    }

    /// Every mapping of the same image name, whatever its cluster.
    func devices(sameImageAs spec: KRBDImageSpec) async throws -> [Device] {
        var found: [Device] = []
        for id in try await deviceIDs() {
            if let device = await device(id), device.spec.sameImage(as: spec) { found.append(device) }
        }
        return found
    }

    /// True when the block device of `device` is there with the numbers sysfs gave the mapping,
    /// and its /dev node exists (krbd.cc checks the same before it answers).
    func blockDeviceReady(_ device: Device) async -> Bool {
        guard let dev = try? await host.read("\(device.blockDirectory)/dev") else { return false }
        let numbers = dev.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").map { Int($0) }
        guard numbers.count == 2, numbers[0] == device.major, device.minor == nil || numbers[1] == device.minor else { return false }
        return await host.fileExists(device.devicePath)
    }

    /// The block device's size: `size` counts 512-byte sectors whatever the logical block size.
    func sizeBytes(of device: Device) async throws -> UInt64 {
        let text = try await host.read("\(device.blockDirectory)/size").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let sectors = UInt64(text) else {
            throw TetherError(.cephFailed, "\(device.blockDirectory)/size holds \"\(text)\", not a number of sectors")
        }
        return sectors * 512
    }

    func logicalBlockSize(of device: Device) async -> UInt32? {
        (try? await host.read("\(device.blockDirectory)/queue/logical_block_size")).flatMap { UInt32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Whether the block device is read-only (`ro`), nil when it cannot be told.
    func isReadOnly(_ device: Device) async -> Bool? {
        switch (try? await host.read("\(device.blockDirectory)/ro"))?.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "1"?: true
        case "0"?: false
        default: nil
        }
    }
}
