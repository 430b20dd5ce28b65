import Foundation
import TetherCore

/// iSCSI in network mode: no host device. Tether logs in on every path with libiscsi, checks the
/// LUN is there and every path shows the same WWID and size, and describes the LUN for QEMU's own
/// iSCSI initiator. It holds no session afterwards; QEMU connects itself.
public struct NetworkISCSIConnector: Connector {
    public let driverVolumeTypes: Set<String> = ISCSIConnectionData.driverVolumeTypes
    public let mode: AttachMode = .network

    let host: any TetherCore.Host
    let timeouts: ISCSITimeouts
    /// Where QEMU's CHAP secret files go (0600, one per attachment).
    let secretDirectory: String
    /// Where the CHAP password becomes the libvirt secret the disk XML names (`[libvirt] uri`);
    /// nil: whoever starts the domain defines it.
    let libvirtSecrets: (any LibvirtSecretStore)?

    public init(host: any TetherCore.Host, timeouts: ISCSITimeouts = ISCSITimeouts(), secretDirectory: String, libvirtSecrets: (any LibvirtSecretStore)? = nil) {
        self.host = host
        self.timeouts = timeouts
        self.secretDirectory = secretDirectory
        self.libvirtSecrets = libvirtSecrets
    }

    public func attach(_ request: AttachRequest) async throws -> AttachedVolume {
        var info = try ISCSIConnectionData(request.connectionInfo)
        guard let initiator = request.connector.initiator, !initiator.isEmpty else {
            throw TetherError.invalidInput("this node has no iSCSI initiator name", hint: "set [iscsi] initiator in tether.toml or write /etc/iscsi/initiatorname.iscsi")
        }
        if info.needsDiscovery {
            info.paths = try await discoverPaths(from: info.paths[0], initiator: initiator, chap: info.discoveryCHAP ?? info.chap)
        }
        let probes = try await probeAll(info.paths, initiator: initiator, info: info)
        let chosen = try Self.agree(on: probes)
        let secretFile = try await writeSecret(info.chap, attachmentID: request.attachmentID)
        let libvirtSecret = try await defineLibvirtSecret(info.chap, attachmentID: request.attachmentID, volumeID: request.volumeID)
        let accessMode = request.accessMode == .readOnly || info.accessMode == .readOnly ? AccessMode.readOnly : .readWrite
        let description = ISCSIDiskDescription(
            path: chosen.path, initiator: initiator, chap: info.chap, secretFile: secretFile,
            attachmentID: request.attachmentID, volumeID: request.volumeID, readOnly: accessMode == .readOnly)
        var attached = AttachedVolume(
            protocolName: "iscsi", mode: .network,
            paths: probes.map { probe in
                AttachedVolume.Path(portal: probe.path.portal.description, target: probe.path.iqn, lun: probe.path.lun, state: probe.state)
            },
            wwid: chosen.wwid, sizeBytes: chosen.size, blockSize: chosen.blockLength, devicePath: nil,
            diskXML: description.libvirtXML, qemuBlockdev: description.qemuBlockdev, qemuObjects: description.qemuObjects,
            secretFiles: secretFile.map { [$0] } ?? [])
        attached.libvirtSecrets = libvirtSecret.map { [$0] } ?? []
        return attached
    }

    /// Undefines the libvirt secrets the attach defined, then removes the secret file.
    public func detach(_ volume: AttachedVolume, attachmentID: String, force: Bool) async throws {
        if let libvirtSecrets {
            for secret in volume.libvirtSecrets {
                try await libvirtSecrets.remove(uuid: secret.uuid)
            }
        }
        try await host.removeSecretFiles(of: volume)
    }

    /// An attach cut off before its result was journaled may have defined the libvirt secret at
    /// the attachment's UUID: the rollback undefines it (gone already is fine).
    public func interruptedAttach(_ request: AttachRequest) -> AttachedVolume {
        var volume = AttachedVolume.partial(protocolName: request.connectionInfo.driverVolumeType.lowercased(), mode: mode, secretFiles: secretFiles(forAttachment: request.attachmentID))
        if libvirtSecrets != nil {
            volume.libvirtSecrets = [
                DefinedLibvirtSecret(
                    uuid: Self.libvirtSecretUUID(attachmentID: request.attachmentID),
                    usage: LibvirtSecretUsage(.iscsi, ISCSIDiskDescription.libvirtSecretUsage(volumeID: request.volumeID)))
            ]
        }
        return volume
    }

    // MARK: - Steps

    /// SendTargets on the one portal given; every portal of the wanted target becomes a path.
    func discoverPaths(from seed: ISCSIPath, initiator: String, chap: CHAPCredentials?) async throws -> [ISCSIPath] {
        let targets = try await ISCSISession.discover(portal: seed.portal, initiator: initiator, chap: chap, timeouts: timeouts)
        let wanted: [ISCSISession.DiscoveredTarget]
        if seed.iqn.isEmpty {
            guard targets.count == 1 else {
                throw TetherError.invalidInput(
                    "discovery on \(seed.portal) found \(targets.count) targets and connection_info names none",
                    hint: "add target_iqn to connection_info")
            }
            wanted = targets
        } else {
            wanted = targets.filter { $0.iqn == seed.iqn }
        }
        guard let target = wanted.first else {
            throw TetherError(
                .iscsiNotAuthorized, "discovery on \(seed.portal) does not list \(seed.iqn.isEmpty ? "any target" : seed.iqn) for this initiator",
                hint: "export the volume to this node's initiator, and check target_iqn")
        }
        let portals = target.portals.isEmpty ? [seed.portal] : target.portals
        return portals.map { ISCSIPath(portal: $0, iqn: target.iqn, lun: seed.lun) }
    }

    struct Probe: Sendable {
        var path: ISCSIPath
        var result: Result<(wwid: String, size: UInt64, blockLength: UInt32), TetherError>

        var state: String {
            switch result {
            case .success: "ok"
            case .failure(let error): "failed: \(error.code)"
            }
        }
    }

    /// Probes all paths at once; each child returns its own result.
    func probeAll(_ paths: [ISCSIPath], initiator: String, info: ISCSIConnectionData) async throws -> [Probe] {
        let probes = await withTaskGroup(of: (Int, Probe).self) { group in
            for (index, path) in paths.enumerated() {
                group.addTask {
                    do {
                        return (index, Probe(path: path, result: .success(try await probe(path, initiator: initiator, info: info))))
                    } catch let error as TetherError {
                        return (index, Probe(path: path, result: .failure(error)))
                    } catch {
                        return (index, Probe(path: path, result: .failure(TetherError(.iscsiCommandFailed, "\(path): \(error)", cause: error))))
                    }
                }
            }
            var results: [(Int, Probe)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return probes
    }

    /// One session per path: login, the three commands at once, close (`ISCSISession.probe`).
    func probe(_ path: ISCSIPath, initiator: String, info: ISCSIConnectionData) async throws -> (wwid: String, size: UInt64, blockLength: UInt32) {
        let found = try await ISCSISession.probe(
            portal: path.portal, target: path.iqn, initiator: initiator, lun: path.lun, chap: info.chap, mutualCHAP: info.mutualCHAP, timeouts: timeouts)
        return try Self.check(found, path: path)
    }

    /// What a probe must show: the LUN among those reported, a device identifier, a size.
    static func check(_ found: LUNProbe, path: ISCSIPath) throws -> (wwid: String, size: UInt64, blockLength: UInt32) {
        guard found.luns.contains(path.lun) else {
            throw TetherError(
                .iscsiLUNNotFound, "LUN \(path.lun) is not on \(path.iqn) at \(path.portal) (it reports \(found.luns.map(String.init).joined(separator: ", ")))",
                hint: "check target_lun in connection_info")
        }
        guard let wwid = SCSIData.wwid(vpd83: try found.vpd83.get()) else {
            throw TetherError(.iscsiCommandFailed, "LUN \(path.lun) of \(path.iqn) reports no device identifier in VPD 0x83", hint: "give the LUN a unit serial or NAA id on the target")
        }
        let capacity = try found.capacity.get()
        return (wwid, capacity.bytes, capacity.blockLength)
    }

    /// The healthy path to hand to QEMU, after checking that all healthy paths are one LUN.
    static func agree(on probes: [Probe]) throws -> (path: ISCSIPath, wwid: String, size: UInt64, blockLength: UInt32) {
        var healthy: [(path: ISCSIPath, wwid: String, size: UInt64, blockLength: UInt32)] = []
        var failures: [TetherError] = []
        for probe in probes {
            switch probe.result {
            case .success(let value): healthy.append((probe.path, value.wwid, value.size, value.blockLength))
            case .failure(let error): failures.append(error)
            }
        }
        guard let first = healthy.first else {
            // Every path failed: the first failure that says most about the cause wins.
            let ranked = failures.sorted { rank($0.code) < rank($1.code) }
            throw ranked.first ?? TetherError.invalidInput("connection_info lists no path")
        }
        if let other = healthy.first(where: { $0.wwid != first.wwid }) {
            throw TetherError(
                .iscsiWWIDMismatch, "paths disagree on the LUN: \(first.path) has WWID \(first.wwid), \(other.path) has \(other.wwid)",
                hint: "the portals lead to different volumes; fix target_portals/target_iqns/target_luns")
        }
        if let other = healthy.first(where: { $0.size != first.size }) {
            throw TetherError(
                .iscsiWWIDMismatch, "paths disagree on the size of \(first.wwid): \(first.size) bytes at \(first.path.portal), \(other.size) at \(other.path.portal)",
                hint: "a resize may be in progress; retry once the target is consistent")
        }
        return first
    }

    static func rank(_ code: TetherError.Code) -> Int {
        switch code {
        case .iscsiAuthFailed, .iscsiNotAuthorized: 0
        case .iscsiLUNNotFound, .iscsiWWIDMismatch: 1
        case .iscsiLoginFailed, .iscsiCommandFailed: 2
        default: 3
        }
    }

    public func secretFiles(forAttachment attachmentID: String) -> [String] {
        ["\(secretDirectory)/\(attachmentID).chap"]
    }

    /// The libvirt secret of an attachment's CHAP password: its UUID follows from the attachment (so a
    /// rollback finds it without a journaled result), its usage from the volume, as the disk XML names it.
    static func libvirtSecretUUID(attachmentID: String) -> UUID {
        UUID.derived(from: "tether iscsi secret\0\(attachmentID)")
    }

    /// Defines the CHAP password as the libvirt secret (usage type iscsi) the disk XML names. A
    /// secret Tether left with that usage name (an earlier attachment of the volume whose detach
    /// could not reach libvirt) is replaced: one volume is attached once per node.
    func defineLibvirtSecret(_ chap: CHAPCredentials?, attachmentID: String, volumeID: String) async throws -> DefinedLibvirtSecret? {
        guard let chap, let libvirtSecrets else { return nil }
        let secret = DefinedLibvirtSecret(
            uuid: Self.libvirtSecretUUID(attachmentID: attachmentID), usage: LibvirtSecretUsage(.iscsi, ISCSIDiskDescription.libvirtSecretUsage(volumeID: volumeID)))
        for stale in try await libvirtSecrets.secrets(of: .iscsi) where stale.usage == secret.usage && stale.uuid != secret.uuid {
            try await libvirtSecrets.remove(uuid: stale.uuid)
        }
        try await libvirtSecrets.ensure(
            uuid: secret.uuid, usage: secret.usage, description: "Tether: CHAP password of volume \(volumeID) (attachment \(attachmentID))",
            value: chap.password.reveal { Array($0.utf8) })
        return secret
    }

    func writeSecret(_ chap: CHAPCredentials?, attachmentID: String) async throws -> String? {
        guard let chap else { return nil }
        let path = secretFiles(forAttachment: attachmentID)[0]
        try await host.writeFile(path, contents: chap.password.reveal { Array($0.utf8) }, mode: 0o600)
        return path
    }
}
