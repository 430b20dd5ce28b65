#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TetherCore

/// What the registry needs to know about files that `Host` does not tell: directory listings and
/// permission bits (a key file must not be readable by group or others).
///
/// TODO(#3): fold these two calls into `Host` and `LinuxHost`, and drop this protocol.
public protocol FileInspector: Sendable {
    /// The names (not paths) in `directory`, or nil when it does not exist.
    func contentsOfDirectory(_ directory: String) async throws -> [String]?
    /// The permission bits (`mode & 0o7777`) of `path`, following symbolic links as a reader does
    /// (Kubernetes mounts secrets as links), or nil when it does not exist.
    func permissions(of path: String) async throws -> UInt32?
    /// The permission bits and owner of `path` (links followed), or nil when it does not exist:
    /// what `SecretFile.problem` judges a key file by.
    func status(of path: String) async throws -> SecretFile.Status?
}

extension FileInspector {
    /// For inspectors that know no owners (test fakes): every file is the agent's own.
    public func status(of path: String) async throws -> SecretFile.Status? {
        try await permissions(of: path).map { SecretFile.Status(mode: $0, owner: UInt32(geteuid())) }
    }
}

/// The real file system, through `stat` and `FileManager`.
public struct LocalFileInspector: FileInspector {
    public init() {}

    public func contentsOfDirectory(_ directory: String) async throws -> [String]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else { return nil }
        guard isDirectory.boolValue else {
            throw TetherError(.invalidInput, "\(directory) is not a directory")
        }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw TetherError(.hostCommandFailed, "cannot list \(directory)", cause: error)
        }
    }

    public func permissions(of path: String) async throws -> UInt32? {
        try Self.status(of: path)?.mode
    }

    public func status(of path: String) async throws -> SecretFile.Status? {
        try Self.status(of: path)
    }

    /// The corresponding C function is `stat`.
    public static func status(of path: String) throws -> SecretFile.Status? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw TetherError(.hostCommandFailed, "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        return SecretFile.Status(mode: UInt32(status.st_mode) & 0o7777, owner: UInt32(status.st_uid))
    }
}
