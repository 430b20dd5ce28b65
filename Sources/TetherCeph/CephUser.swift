import Foundation
import TetherCore

/// A cephx user of one cluster, as the registry file names it: `[user.cinder]`.
///
/// The key itself is not here: it lives in `keyFile` and comes back from the registry as a `Secret`.
public struct CephUser: Sendable, Hashable {
    /// The name without `client.`, as Cinder's `rbd_user` and `auth_username`: "cinder".
    public let name: String
    /// Absolute path of the file that holds this user's base64 key, mode 0600.
    public let keyFile: String
    /// The libvirt secret UUID for this user; nil derives one from the fsid and the name.
    public let secretUUID: UUID?

    /// - Throws: `invalid_input` for a name that is not safe in a file name or a relative `keyFile`.
    public init(name: String, keyFile: String, secretUUID: UUID? = nil) throws {
        try Self.validate(name: name)
        guard keyFile.hasPrefix("/"), !keyFile.contains(where: \.isNewline), !keyFile.contains("\0") else {
            throw TetherError.invalidInput("the key file of client.\(name) must be an absolute path, got \"\(keyFile)\"")
        }
        self.name = name
        self.keyFile = keyFile
        self.secretUUID = secretUUID
    }

    /// `client.<name>`: the section of keyrings and the entity librados authenticates as.
    public var entity: String { "client.\(name)" }

    /// Checks a user name: 1-63 of A-Z a-z 0-9 `_` `-` `.`, not starting with `.` or `-`, without
    /// `client.`. It becomes part of keyring file names, so nothing that could leave the directory.
    public static func validate(name: String) throws {
        if name.hasPrefix("client.") {
            throw TetherError.invalidInput("Ceph user \"\(name)\" must be written without \"client.\"", hint: "write \(name.dropFirst(7)), as Cinder's rbd_user does")
        }
        guard (1...63).contains(name.count), !name.hasPrefix("."), !name.hasPrefix("-"), !name.contains(".."),
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) })
        else {
            throw TetherError.invalidInput("Ceph user name \"\(name)\" is not 1-63 of A-Z a-z 0-9 _ - . (not starting with . or -)")
        }
    }
}
