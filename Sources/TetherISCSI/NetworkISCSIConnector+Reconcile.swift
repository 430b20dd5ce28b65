import TetherCore

/// A network iSCSI attachment holds nothing on the host but QEMU's CHAP secret file. The journal
/// keeps the connection_info redacted, so a lost file cannot be written again here: the
/// attachment is `missing` (QEMU cannot log in without it), and attaching again (which brings the
/// password) makes it anew. A file others may read is rewritten 0600 when healing.
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
        return Inspection(health: health, problems: problems, repairs: repairs, volume: volume)
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
