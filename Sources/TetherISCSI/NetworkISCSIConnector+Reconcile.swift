import Foundation
import TetherCore

/// A network iSCSI attachment holds nothing on the host but QEMU's CHAP secret file and, with
/// `[libvirt] uri`, the libvirt secret its disk XML names. The journal keeps the connection_info
/// redacted, so a lost file cannot be written again here: the attachment is `missing` (QEMU cannot
/// log in without it), and attaching again (which brings the password) makes it anew. A file others
/// may read is rewritten 0600 when healing; a lost libvirt secret is defined again from the file.
extension NetworkISCSIConnector {
    static let secretSuffix = ".chap"

    public func inspect(_ volume: AttachedVolume, attachmentID: String, heal: Bool) async -> Inspection {
        var health = AttachmentHealth.healthy
        var problems: [String] = []
        var repairs: [String] = []
        for path in volume.secretFiles {
            switch await host.secretFileState(path) {
            case .fine:
                continue
            case .missing:
                health = max(health, .missing)
                problems.append(
                    "the CHAP secret file \(path) is gone, and the journal keeps no password to write it again; attach the volume again (tether attach) to make it")
            case .unreadable(let reason):
                health = max(health, .unknown)
                problems.append(reason)
            case .exposed(let problem):
                if heal {
                    do {
                        try await tighten(path)
                        repairs.append("made \(path) mode 0600 again")
                        continue
                    } catch {
                        problems.append("\(problem.message); could not rewrite it 0600: \(error); \(problem.hint)")
                    }
                } else {
                    problems.append(problem.description)
                }
                health = max(health, .degraded)
            }
        }
        await inspectLibvirtSecrets(volume, heal: heal, health: &health, problems: &problems, repairs: &repairs)
        return Inspection(health: health, problems: problems, repairs: repairs, volume: volume)
    }

    private func inspectLibvirtSecrets(_ volume: AttachedVolume, heal: Bool, health: inout AttachmentHealth, problems: inout [String], repairs: inout [String]) async {
        guard let libvirtSecrets, !volume.libvirtSecrets.isEmpty else { return }
        let defined: Set<UUID>
        do {
            defined = Set(try await libvirtSecrets.secrets(of: .iscsi).map(\.uuid))
        } catch {
            health = max(health, .unknown)
            problems.append("cannot list libvirt's secrets: \(error)")
            return
        }
        for secret in volume.libvirtSecrets where !defined.contains(secret.uuid) {
            let name = "libvirt secret \(secret.uuid.uuidString.lowercased()) (iscsi '\(secret.usage.name)')"
            if heal, let file = volume.secretFiles.first {
                do {
                    let password = Secret(try await host.read(file))
                    try await libvirtSecrets.ensure(
                        uuid: secret.uuid, usage: secret.usage, description: "Tether: CHAP password (\(secret.usage.name))", value: password.reveal { Array($0.utf8) })
                    repairs.append("defined \(name) again from \(file)")
                    continue
                } catch {
                    problems.append("\(name) is gone and could not be defined again: \(error)")
                }
            } else {
                problems.append("\(name) is gone: a domain start with this disk fails; tether reconcile defines it again")
            }
            health = max(health, .degraded)
        }
    }

    public func orphans(known: [AttachedVolume]) async throws -> [Orphan] {
        try await host.strayFiles(in: secretDirectory, suffix: Self.secretSuffix, known: known)
    }

    public func remove(_ orphan: Orphan) async throws {
        try await host.removeStrayFile(orphan, in: secretDirectory, suffix: Self.secretSuffix)
    }

    /// Writes the file's own contents back with mode 0600 (and the agent as owner).
    private func tighten(_ path: String) async throws {
        let password = Secret(try await host.read(path))
        try await host.writeFile(path, contents: password.reveal { Array($0.utf8) }, mode: 0o600)
    }
}
