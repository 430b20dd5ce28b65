import TetherCore
import TetherMultipath

/// The kernel initiator's sessions, SCSI hosts and LUN devices, read from sysfs.
///
/// Layout read (software iSCSI, one SCSI host per session):
/// /sys/class/iscsi_session/sessionN/{targetname,state,device -> …/hostH/sessionN},
/// /sys/class/iscsi_connection/connectionN:0/{persistent_address,persistent_port},
/// …/hostH/sessionN/targetH:C:T/H:C:T:L/{wwid,vpd_pg83,delete,rescan,block/sdX/{size,ro}},
/// /sys/class/scsi_host/hostH/scan.
struct ISCSISysfs: Sendable {
    let host: any Host
    let paths: SystemPaths

    var sessionClass: String { "\(paths.sysfs)/class/iscsi_session" }
    var connectionClass: String { "\(paths.sysfs)/class/iscsi_connection" }

    /// Every session in sysfs; sessions that vanish while being read are left out.
    func sessions() async throws -> [KernelISCSISession] {
        var sessions: [KernelISCSISession] = []
        let connections = try await host.listDirectory(connectionClass)
        for entry in try await host.listDirectory(sessionClass) {
            guard entry.hasPrefix("session"), let id = Int(entry.dropFirst("session".count)) else { continue }
            if let session = await session(id: id, connections: connections) { sessions.append(session) }
        }
        return sessions
    }

    func session(serving portal: Portal, target: String) async throws -> KernelISCSISession? {
        try await sessions().first { $0.serves(portal, target: target) }
    }

    private func session(id: Int, connections: [String]) async -> KernelISCSISession? {
        let base = "\(sessionClass)/session\(id)"
        guard let targetName = try? await host.read("\(base)/targetname").trimmedLine,
            let directory = await host.resolvePath("\(base)/device"),
            let hostNumber = Self.hostNumber(in: directory)
        else { return nil }
        let state = (try? await host.read("\(base)/state").trimmedLine) ?? "UNKNOWN"
        // One connection per session (connectionN:0); MC/S is not used by open-iscsi.
        guard let connection = connections.first(where: { $0.hasPrefix("connection\(id):") }) else { return nil }
        let connectionBase = "\(connectionClass)/\(connection)"
        func attribute(_ names: String...) async -> String? {
            for name in names {
                if let value = try? await host.read("\(connectionBase)/\(name)").trimmedLine, !value.isEmpty { return value }
            }
            return nil
        }
        guard let address = await attribute("persistent_address", "address"),
            let port = await attribute("persistent_port", "port").flatMap({ Int($0) })
        else { return nil }
        return KernelISCSISession(
            id: id, targetName: targetName, address: address, port: port, state: state, directory: directory, hostNumber: hostNumber)
    }

    /// H in the last "hostH" component of a device path.
    static func hostNumber(in path: String) -> Int? {
        path.split(separator: "/").reversed().lazy.compactMap { component in
            component.hasPrefix("host") ? Int(component.dropFirst(4)) : nil
        }.first
    }

    // MARK: - LUNs

    /// The target directories of a session ("target2:0:0"); none before the first scan found a LUN.
    func targets(of session: KernelISCSISession) async throws -> [String] {
        try await host.listDirectory(session.directory).filter { $0.hasPrefix("target\(session.hostNumber):") }
    }

    /// Every SCSI device (LUN) of a session, with its sysfs directory.
    func scsiDevices(of session: KernelISCSISession) async throws -> [(address: SCSIAddress, directory: String)] {
        var devices: [(SCSIAddress, String)] = []
        for target in try await targets(of: session) {
            let targetDirectory = "\(session.directory)/\(target)"
            for entry in try await host.listDirectory(targetDirectory) {
                if let address = SCSIAddress(parsing: entry) { devices.append((address, "\(targetDirectory)/\(entry)")) }
            }
        }
        return devices
    }

    /// The sysfs directory of the session's device for `lun`, when it exists.
    func scsiDirectory(of session: KernelISCSISession, lun: Int) async throws -> String? {
        try await scsiDevices(of: session).first { $0.address.lun == lun }?.directory
    }

    /// Asks the kernel to probe `lun` on the session's target only, not every LUN the target
    /// has: "C T L" to the host's `scan`, or "- - L" while the target has no directory yet.
    func scan(_ session: KernelISCSISession, lun: Int) async throws {
        var channelAndTarget = "- -"
        if let target = try await targets(of: session).first {
            let numbers = target.dropFirst("target".count).split(separator: ":")
            if numbers.count == 3 { channelAndTarget = "\(numbers[1]) \(numbers[2])" }
        }
        try await host.writeAttribute("\(paths.sysfs)/class/scsi_host/host\(session.hostNumber)/scan", "\(channelAndTarget) \(lun)")
    }

    /// The block device of the SCSI device at `scsiDirectory`, once the disk driver made it.
    func pathDevice(at scsiDirectory: String) async throws -> PathDevice? {
        // A disk has one block entry; a partition shows below it, not here.
        guard let name = try await host.listDirectory("\(scsiDirectory)/block").first else { return nil }
        let blockDirectory = "\(scsiDirectory)/block/\(name)"
        guard let sectors = try? await host.read("\(blockDirectory)/size").trimmedLine, let count = UInt64(sectors) else { return nil }
        let readOnly = (try? await host.read("\(blockDirectory)/ro").trimmedLine) == "1"
        return PathDevice(name: name, scsiDirectory: scsiDirectory, wwid: await wwid(at: scsiDirectory), sizeBytes: count * 512, readOnly: readOnly)
    }

    /// The device for `lun` on `session`, when its block device exists.
    func pathDevice(of session: KernelISCSISession, lun: Int) async throws -> PathDevice? {
        guard let directory = try await scsiDirectory(of: session, lun: lun) else { return nil }
        return try await pathDevice(at: directory)
    }

    /// The LUN's identity: the kernel's `wwid` attribute (chosen from VPD page 0x83 as
    /// `SCSIData.wwid` chooses), else VPD page 0x83 itself when it reads back intact.
    func wwid(at scsiDirectory: String) async -> WWID? {
        if let text = try? await host.read("\(scsiDirectory)/wwid").trimmedLine, !text.isEmpty {
            return WWID(sysfs: text)
        }
        // Host.read decodes text: a page with bytes that are not UTF-8 cannot be trusted.
        guard let page = try? await host.read("\(scsiDirectory)/vpd_pg83"), !page.unicodeScalars.contains("\u{FFFD}"),
            let wwid = SCSIData.wwid(vpd83: Array(page.utf8))
        else { return nil }
        return WWID(sysfs: wwid)
    }

    func logicalBlockSize(of device: PathDevice) async -> UInt32? {
        (try? await host.read("\(device.blockDirectory)/queue/logical_block_size")).flatMap { UInt32($0.trimmedLine) }
    }

    func exists(_ directory: String) async -> Bool {
        await host.resolvePath(directory) != nil
    }
}
