/// The secret files network attachments leave for QEMU (`<state>/secrets/<attachment>.cephx`,
/// `.chap`): checked by the reconciler, and those no attachment names found again.
public enum SecretFileState: Sendable, Hashable {
    case fine
    case missing
    /// There, but group or others may read or write it, or a stranger owns it.
    case exposed(SecretFile.Problem)
    /// `stat` failed for another reason than absence.
    case unreadable(String)
}

extension Host {
    /// What the secret file at `path` looks like: there, 0600 (or tighter) and ours, or not.
    public func secretFileState(_ path: String) async -> SecretFileState {
        do {
            guard let status = try await fileStatus(path) else { return .missing }
            if let problem = SecretFile.problem(path: path, status: status.secretFile) { return .exposed(problem) }
            return .fine
        } catch {
            return .unreadable("cannot stat \(path): \(error)")
        }
    }

    /// The files in `directory` named `<something><suffix>` that no volume of `known` lists among
    /// its secret files, as orphans. `known` holds attaches in flight too (what their interrupted
    /// attach would name), so a file an attach is about to use is never one.
    public func strayFiles(in directory: String, suffix: String, known: [AttachedVolume]) async throws -> [Orphan] {
        let named = Set(known.flatMap(\.secretFiles))
        return try await listDirectory(directory).filter { $0.hasSuffix(suffix) && $0.count > suffix.count }.compactMap { name in
            let path = "\(directory)/\(name)"
            guard !named.contains(path) else { return nil }
            return Orphan(kind: .secretFile, name: path, detail: "a secret file for attachment \(name.dropLast(suffix.count)), which the journal does not know")
        }
    }

    /// Removes a secret file `strayFiles` reported, after checking it is one of `directory`'s.
    /// - Throws: `invalid_input` for any other path.
    public func removeStrayFile(_ orphan: Orphan, in directory: String, suffix: String) async throws {
        let name = orphan.name.hasPrefix(directory + "/") ? String(orphan.name.dropFirst(directory.count + 1)) : ""
        guard orphan.kind == .secretFile, name.hasSuffix(suffix), name.count > suffix.count, !name.contains("/"), name != ".", name != ".." else {
            throw TetherError.invalidInput("\(orphan.name) is not a \(suffix) secret file in \(directory)")
        }
        try await removeFile(orphan.name)
    }
}
