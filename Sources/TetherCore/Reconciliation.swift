/// How a journaled attachment compares with the host, as the reconciler last found it.
public enum AttachmentHealth: String, Sendable, Codable, CaseIterable, Comparable {
    /// Everything the handle describes is there and usable.
    case healthy
    /// Usable, but less than attached: a path of several is gone, a secret file is missing.
    case degraded
    /// Not usable here: no session, no mapping, no device.
    case missing
    /// Not checked yet, or the check itself failed (a command that did not answer).
    case unknown

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    /// Worse is larger: combining two findings keeps the worse.
    var rank: Int {
        switch self {
        case .healthy: 0
        case .unknown: 1
        case .degraded: 2
        case .missing: 3
        }
    }
}

/// What a connector found when it re-read the host for one attachment.
public struct Inspection: Sendable, Hashable {
    public var health: AttachmentHealth
    /// What is wrong, one line each, after any repair.
    public var problems: [String]
    /// What was repaired (when asked to heal), one line each.
    public var repairs: [String]
    /// The attachment as it is now: a repair may change device numbers, sessions, the map.
    public var volume: AttachedVolume

    public init(health: AttachmentHealth, problems: [String] = [], repairs: [String] = [], volume: AttachedVolume) {
        self.health = health
        self.problems = problems
        self.repairs = repairs
        self.volume = volume
    }
}

/// Host state that looks like Tether's but that no journaled attachment describes.
public struct Orphan: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case iscsiSession = "iscsi_session"
        case iscsiNode = "iscsi_node"
        case multipathMap = "multipath_map"
        case krbdMapping = "krbd_mapping"
        case secretFile = "secret_file"
        case mapFile = "map_file"
        case libvirtSecret = "libvirt_secret"
    }

    public var kind: Kind
    /// What names it on the host: a SID, a map name, a device number, a path, a UUID.
    public var name: String
    /// Why it looks like Tether's and what it holds.
    public var detail: String
    /// The volume it was made for, when its names say (a map file, a by-tether link): removed
    /// under that volume's lock, and not at all once the volume is journaled again (an attach
    /// adopts what it finds of its own volume).
    public var volumeID: String?

    public init(kind: Kind, name: String, detail: String, volumeID: String? = nil) {
        self.kind = kind
        self.name = name
        self.detail = detail
        self.volumeID = volumeID
    }

    enum CodingKeys: String, CodingKey {
        case kind, name, detail
        case volumeID = "volume_id"
    }
}

/// The reconciler's view of a connector: re-read the host for an attachment, repair, find leftovers.
public protocol Reconciling: Sendable {
    /// Compares what `volume`'s handle describes with the host. With `heal`, first repairs what it
    /// safely can (logs a lost path back in, re-adds it to the map, maps an image again after a
    /// reboot under the same stable names) and reports what it did. Never throws: a check that
    /// cannot be made is `unknown` with the reason.
    func inspect(_ volume: AttachedVolume, attachmentID: String, heal: Bool) async -> Inspection
    /// Host state of this connector's kind that none of `known` describes.
    func orphans(known: [AttachedVolume]) async throws -> [Orphan]
    /// Removes one orphan this connector reported.
    func remove(_ orphan: Orphan) async throws
}

extension Connector {
    /// Network attachments hold nothing on the host but their secret files: healthy while they exist.
    public func inspect(_ volume: AttachedVolume, attachmentID: String, heal: Bool) async -> Inspection {
        .healthy(volume)
    }

    public func orphans(known: [AttachedVolume]) async throws -> [Orphan] { [] }

    public func remove(_ orphan: Orphan) async throws {
        throw TetherError(.unsupported, "\(orphan.kind.rawValue) \(orphan.name) is not this connector's to remove")
    }
}

extension Inspection {
    public static func healthy(_ volume: AttachedVolume, repairs: [String] = []) -> Inspection {
        Inspection(health: .healthy, repairs: repairs, volume: volume)
    }
}
