/// `GET /v1/doctor`: whether this node has what its configuration needs, and whether the journal's
/// attachments are still there. `ok` is false when any finding failed; warnings and skipped
/// checks leave it true.
public struct DoctorReport: Codable, Sendable, Hashable {
    public var ok: Bool
    public var findings: [DoctorFinding]

    public init(findings: [DoctorFinding]) {
        self.ok = !findings.contains { $0.status == .failed }
        self.findings = findings
    }
}

/// One result of one check. A check may yield several findings (one per kernel module, Ceph
/// cluster or attachment).
public struct DoctorFinding: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, Hashable, CaseIterable {
        /// The check holds.
        case ok
        /// It holds, but something deserves a look (clock skew over Ceph's allowance, an
        /// operation in progress, rules that differ from this version's).
        case warning
        /// It does not hold: what the configuration needs is missing or broken.
        case failed
        /// The node's configuration does not use what the check looks at; `message` says why.
        case skipped
    }

    public var check: DoctorCheck
    public var status: Status
    public var message: String
    /// What to do about it; absent on `ok`.
    public var hint: String?

    public init(_ check: DoctorCheck, _ status: Status, _ message: String, hint: String? = nil) {
        self.check = check
        self.status = status
        self.message = message
        self.hint = hint
    }
}

/// A check's stable id (README lists them). A string, so a client reads ids a newer agent adds.
public struct DoctorCheck: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// iscsi_tcp, dm_multipath, rbd: built in, loaded or loadable.
    public static let kernelModules = DoctorCheck(rawValue: "kernel-modules")
    /// open-iscsi's daemon runs.
    public static let iscsid = DoctorCheck(rawValue: "iscsid")
    /// open-iscsi's initiatorname.iscsi holds a valid name, the one the agent reports.
    public static let initiatorName = DoctorCheck(rawValue: "initiator-name")
    /// multipathd answers, and its configuration leaves iSCSI disks to it.
    public static let multipathd = DoctorCheck(rawValue: "multipathd")
    /// Tether's udev rules are where udev reads them, as this version ships them.
    public static let udevRules = DoctorCheck(rawValue: "udev-rules")
    /// The ceph directory, confs and keyrings exist with safe modes and owners.
    public static let cephPermissions = DoctorCheck(rawValue: "ceph-permissions")
    /// libvirt answers at `[libvirt] uri`.
    public static let libvirt = DoctorCheck(rawValue: "libvirt")
    /// The API socket has mode 0660 and the configured group.
    public static let socket = DoctorCheck(rawValue: "socket")
    /// This node's clock against each registered cluster's monitors.
    public static let clockSkew = DoctorCheck(rawValue: "clock-skew")
    /// Every journaled attachment still exists on the host.
    public static let journal = DoctorCheck(rawValue: "journal")
    /// Never sent by tetherd: `tether doctor` could not ask it.
    public static let agent = DoctorCheck(rawValue: "agent")

    /// The checks tetherd runs, in the order it reports them.
    public static let agentChecks: [Self] = [
        .kernelModules, .iscsid, .initiatorName, .multipathd, .udevRules, .cephPermissions, .libvirt, .socket, .clockSkew, .journal,
    ]
}
