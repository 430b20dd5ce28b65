import TetherCore
import TetherMultipath

/// The names udev gives the volume (udev/60-tether.rules): a LUN carries no volume id, so the
/// connector writes `<mapDirectory>/<udev WWID>` holding `TETHER_VOLUME_ID=<id>` and has udev
/// look at the disk again; the rules then link /dev/disk/by-tether/<id> to the disk, or to the
/// multipath map that claims it. `StableNames` (TetherCore) holds the format both kernel
/// connectors and the rules' helper share.
extension KernelISCSIConnector {
    /// The map file for `wwid`; nil for a WWID udev spells differently than Tether (SCSI name strings).
    func volumeMapFile(_ wwid: WWID) -> String? {
        let sysfs = wwid.sysfs
        guard sysfs.hasPrefix("naa.") || sysfs.hasPrefix("eui.") || sysfs.hasPrefix("t10.") else { return nil }
        return "\(configuration.volumeMapDirectory)/\(wwid.udev)"
    }

    static func mapFileContents(volumeID: String) -> String { StableNames.mapFileContents(volumeID: volumeID) }

    static func isUsableVolumeID(_ id: String) -> Bool { StableNames.isUsableVolumeID(id) }

    /// Tells udev which volume the LUN `wwid` is. Failing to is not fatal: the by-id names remain.
    func publishVolumeID(_ volumeID: String, wwid: WWID?) async {
        guard let wwid, Self.isUsableVolumeID(volumeID), let file = volumeMapFile(wwid) else { return }
        do {
            try await host.writeFile(file, contents: Array(Self.mapFileContents(volumeID: volumeID).utf8), mode: 0o644)
        } catch {
            logger.warning("cannot write the udev map file; no by-tether name", metadata: ["file": "\(file)", "error": "\(error)"])
        }
    }

    /// Has udev run its rules again for devices that appeared before the map file did.
    func retriggerUdev(_ ueventFiles: [String]) async {
        for file in ueventFiles {
            try? await host.writeAttribute(file, "change")
        }
    }

    /// Removes the map file once the LUN has no disk here, unless it names another volume.
    func withdrawVolumeID(_ volumeID: String?, wwid: WWID?) async {
        guard let wwid, let file = volumeMapFile(wwid), let text = try? await host.read(file) else { return }
        if let volumeID, text != Self.mapFileContents(volumeID: volumeID) { return }
        try? await host.removeFile(file)
    }
}
