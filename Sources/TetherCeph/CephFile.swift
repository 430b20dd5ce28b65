import TetherCore

/// A file Tether makes in the ceph directory: its path, mode and contents.
public struct CephFile: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// `<cluster>.conf`, mode 0644.
        case conf
        /// `<cluster>.client.<user>.keyring`, mode 0600.
        case keyring
    }

    public enum Contents: Sendable, Hashable {
        case text(String)
        /// A keyring: it prints as `<redacted>` like any `Secret`.
        case secret(Secret)
    }

    public var path: String
    public var kind: Kind
    public var mode: UInt32
    public var contents: Contents

    public init(path: String, kind: Kind, mode: UInt32, contents: Contents) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.contents = contents
    }

    /// True when `existing` (what the file holds now) is what this file should hold.
    public func hasContents(_ existing: Secret) -> Bool {
        switch contents {
        case .text(let text): existing == Secret(text)
        case .secret(let secret): existing == secret
        }
    }

    /// Writes the file through `host`, atomically with its mode. For a keyring this is the one
    /// place its key is revealed.
    public func write(to host: any Host) async throws {
        let bytes: [UInt8] = switch contents {
        case .text(let text): Array(text.utf8)
        case .secret(let secret): secret.reveal { Array($0.utf8) }
        }
        try await host.writeFile(path, contents: bytes, mode: mode)
    }

    /// Writes the file unless it already holds exactly this, so a hot path (every attach) does
    /// not rewrite and fsync unchanged files. Returns whether it wrote.
    @discardableResult
    public func writeIfChanged(to host: any Host) async throws -> Bool {
        if let existing = try? await host.read(path), hasContents(Secret(existing)) { return false }
        try await write(to: host)
        return true
    }

    public var description: String { "\(path) (\(CephRegistry.octal(mode)))" }
}
