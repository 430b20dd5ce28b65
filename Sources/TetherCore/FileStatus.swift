/// What `stat` says about a path (symbolic links followed): its kind, permission bits and owners.
public struct FileStatus: Sendable, Hashable {
    public var kind: FileKind
    /// The permission bits, `st_mode & 0o7777`.
    public var mode: UInt32
    /// `st_uid`.
    public var owner: UInt32
    /// `st_gid`.
    public var group: UInt32

    public init(kind: FileKind, mode: UInt32, owner: UInt32 = 0, group: UInt32 = 0) {
        self.kind = kind
        self.mode = mode
        self.owner = owner
        self.group = group
    }
}

extension FileStatus {
    /// What `SecretFile.problem` judges a secret file by.
    public var secretFile: SecretFile.Status { SecretFile.Status(mode: mode, owner: owner) }
}
