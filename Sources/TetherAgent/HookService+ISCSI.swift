import Foundation
import TetherAPI
import TetherCore

/// `migrate begin` and `restore begin` for iSCSI disks with CHAP: the XML names the source node's
/// libvirt iscsi secret, and only a secret this node has lets QEMU log in. The hook may not ask
/// libvirt which secrets exist (libvirtd waits on it), so tetherd's journal answers: a network-mode
/// attachment here of the same target and LUN whose CHAP secret tetherd defined in libvirt.
extension HookService {
    /// What this node has for one iSCSI target: the libvirt secret tetherd defined and the CHAP user.
    struct ISCSISecretMatch: Sendable, Hashable {
        var attachmentID: String
        var volumeID: String
        var secret: DefinedLibvirtSecret
        var username: String
        /// The attachment's paths as `IQN/LUN`.
        var targets: Set<String>
    }

    /// Every network-mode iSCSI attachment of this node whose CHAP secret tetherd defined in libvirt.
    func iscsiSecrets() async throws -> [ISCSISecretMatch] {
        try await journal.attachments().compactMap { record -> ISCSISecretMatch? in
            guard record.mode == .network, record.state == .attached, let result = record.result,
                let secret = result.libvirtSecrets.first(where: { $0.usage.kind == .iscsi }),
                // The journal masks the password, never the user name.
                let username = record.connectionInfo.data["auth_username"]?.stringValue
            else { return nil }
            return ISCSISecretMatch(
                attachmentID: record.id, volumeID: record.volumeID, secret: secret, username: username,
                // A path without a LUN is LUN 0, as libvirt reads a name without one.
                targets: Set(result.paths.map { "\($0.target)/\($0.lun ?? 0)" }))
        }
    }

    /// The secret reference and user this node's XML must carry for `disk`, or why there is none.
    /// A disk that names a UUID keeps naming one (this node's), one that names a usage gets Tether's.
    static func resolve(_ disk: DomainDisk.ISCSIDisk, among secrets: [ISCSISecretMatch]) -> Result<(secret: DomainDisk.SecretReference, username: String, match: ISCSISecretMatch), TetherError> {
        let what = "\(disk.target) (iscsi \(disk.name))"
        guard let lun = disk.lun, !disk.iqn.isEmpty else {
            return .failure(TetherError.invalidField("xml", "\(what): the source name is not IQN/LUN", hint: "pass the domain XML libvirt gives the hook, unchanged"))
        }
        var candidates = secrets.filter { $0.targets.contains("\(disk.iqn)/\(lun)") }
        if candidates.count > 1, case .usage(let usage) = disk.secret {
            // One volume is attached once per node, so the usage (named per volume) tells them apart.
            candidates = candidates.filter { $0.secret.usage.name == usage }
        }
        guard let match = candidates.first else {
            return .failure(
                TetherError(
                    .notFound,
                    "\(what): this node has no network-mode iSCSI attachment of target \(disk.iqn) LUN \(lun) with a CHAP secret tetherd defined in libvirt",
                    hint: "tether attach the volume in network mode on this node first (with [libvirt] uri set), then migrate"))
        }
        guard candidates.count == 1 else {
            return .failure(
                TetherError(
                    .conflict, "\(what): target \(disk.iqn) LUN \(lun) is attached here as several volumes (\(candidates.map(\.volumeID).joined(separator: ", ")))",
                    hint: "detach all but one of them"))
        }
        let secret: DomainDisk.SecretReference =
            switch disk.secret {
            case .uuid: .uuid(match.secret.uuid.uuidString.lowercased())
            case .usage, nil: .usage(match.secret.usage.name)
            }
        return .success((secret, match.username, match))
    }
}
