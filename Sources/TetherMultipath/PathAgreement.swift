import TetherCore

/// Checks that paths lead to one LUN before they are used together.
public enum PathAgreement {
    /// The WWID and size every device in `devices` shares.
    ///
    /// - Parameter describe: how to name a device's path in an error ("10.0.0.1:3260 iqn… lun 1").
    /// - Throws: `iscsi.wwid_mismatch` when two devices differ in WWID or size: the portals lead to
    ///   different volumes, or a resize is half way through.
    public static func agree(_ devices: [PathDevice], describe: (PathDevice) -> String = \.name) throws -> (wwid: WWID?, sizeBytes: UInt64) {
        guard let first = devices.first else {
            throw TetherError(.internalError, "no path device to check")
        }
        if let other = devices.first(where: { $0.wwid != first.wwid }) {
            throw TetherError(
                .iscsiWWIDMismatch,
                "paths disagree on the LUN: \(describe(first)) (\(first.name)) has WWID \(first.wwid?.sysfs ?? "none"), "
                    + "\(describe(other)) (\(other.name)) has \(other.wwid?.sysfs ?? "none")",
                hint: "the portals lead to different volumes; fix target_portals/target_iqns/target_luns")
        }
        if let other = devices.first(where: { $0.sizeBytes != first.sizeBytes }) {
            throw TetherError(
                .iscsiWWIDMismatch,
                "paths disagree on the size of \(first.wwid?.sysfs ?? "the LUN"): \(first.sizeBytes) bytes at \(describe(first)), "
                    + "\(other.sizeBytes) at \(describe(other))",
                hint: "a resize may be in progress; retry once the target is consistent")
        }
        return (first.wwid, first.sizeBytes)
    }
}
