import Foundation

/// What a libvirt secret is for: its usage type and name. libvirt keeps one secret per (type,
/// name), and a secret's usage never changes once defined.
public struct LibvirtSecretUsage: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case ceph
        case iscsi
    }

    public var kind: Kind
    public var name: String

    public init(_ kind: Kind, _ name: String) {
        self.kind = kind
        self.name = name
    }
}

/// One secret libvirt has, as listing shows it (never its value).
public struct LibvirtSecretInfo: Sendable, Hashable {
    public var uuid: UUID
    public var usage: LibvirtSecretUsage
    /// libvirt never gives a private secret's value back, so its value cannot be compared.
    public var isPrivate: Bool

    public init(uuid: UUID, usage: LibvirtSecretUsage, isPrivate: Bool) {
        self.uuid = uuid
        self.usage = usage
        self.isPrivate = isPrivate
    }
}

/// A libvirt secret Tether defined for an attachment, as the journal keeps it.
public struct DefinedLibvirtSecret: Sendable, Hashable, Codable {
    public var uuid: UUID
    public var usage: LibvirtSecretUsage

    public init(uuid: UUID, usage: LibvirtSecretUsage) {
        self.uuid = uuid
        self.usage = usage
    }
}

/// How a disk's XML names its secret: by usage (the same name on every node, so a domain moves
/// with nothing to rewrite) or by UUID (a secret another tool defined, or one Tether does not
/// manage because `[libvirt] uri` is empty).
public enum LibvirtSecretReference: Sendable, Hashable {
    case usage(LibvirtSecretUsage)
    case uuid(UUID, LibvirtSecretUsage.Kind)

    /// `<secret type='ceph' usage='...'/>` or `<secret type='ceph' uuid='...'/>`.
    public var xmlElement: String {
        let escape = DiskDescription.xmlEscaped
        return switch self {
        case .usage(let usage): "<secret type='\(usage.kind.rawValue)' usage='\(escape(usage.name))'/>"
        case .uuid(let uuid, let kind): "<secret type='\(kind.rawValue)' uuid='\(uuid.uuidString.lowercased())'/>"
        }
    }
}

/// libvirt's secrets as Tether uses them: `LibvirtSecrets` (TetherLibvirt, the libvirt C API) on a
/// node. Values go through memory only, never a file or a command line.
public protocol LibvirtSecretStore: Sendable {
    /// Defines the secret (or finds it defined) and sets its value. Idempotent.
    /// - Throws: `conflict` when another secret has this usage, or this UUID another usage.
    func ensure(uuid: UUID, usage: LibvirtSecretUsage, description: String, value: [UInt8]) async throws
    /// Undefines the secret; one that is not there is fine.
    func remove(uuid: UUID) async throws
    /// Every secret of `kind`.
    func secrets(of kind: LibvirtSecretUsage.Kind) async throws -> [LibvirtSecretInfo]
    /// The secret's value, or nil when libvirt will not give it (a private secret) or it is gone.
    func value(uuid: UUID) async throws -> [UInt8]?
}

extension UUID {
    /// A UUID that depends only on `label`: the first 16 bytes of its SHA-256 with the version
    /// nibble 8 (custom) and the RFC 9562 variant bits.
    public static func derived(from label: String) -> UUID {
        var bytes = Array(SHA256.digest(Array(label.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | 0x80
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        return UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
