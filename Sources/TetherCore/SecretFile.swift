#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one rule for files that hold a secret Tether reads (Cinder's password, application
/// credential secret and token files; Ceph key files): owned by root, or by the agent's own user
/// when it does not run as root, and neither readable nor writable by group or others. A file
/// others may write is as bad as one they may read: they could swap the credential Tether uses.
public enum SecretFile {
    /// What `stat` says about a file that matters here.
    public struct Status: Sendable, Hashable {
        /// The permission bits, `st_mode & 0o7777`.
        public var mode: UInt32
        /// `st_uid`.
        public var owner: UInt32

        public init(mode: UInt32, owner: UInt32) {
            self.mode = mode
            self.owner = owner
        }
    }

    /// Why a secret file is refused, and what to run about it.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var path: String
        /// What is wrong, naming the file and its mode or owner.
        public var message: String
        /// The command that fixes it (chmod 600 / chown).
        public var hint: String

        public var description: String { "\(message); \(hint)" }
    }

    /// nil when `status` is fine for a secret file at `path`, else why not.
    /// - Parameter agentUID: the agent's effective user; root may always own the file.
    public static func problem(path: String, status: Status, agentUID: UInt32 = UInt32(geteuid())) -> Problem? {
        if status.mode & 0o077 != 0 {
            return Problem(
                path: path, message: "\(path) has mode \(octal(status.mode)): group or others may read or write it",
                hint: "run chmod 600 \(path)")
        }
        if status.owner != 0, status.owner != agentUID {
            let wanted = agentUID == 0 ? "root" : "root or uid \(agentUID) (tetherd's user)"
            return Problem(
                path: path, message: "\(path) (mode \(octal(status.mode))) is owned by uid \(status.owner), not \(wanted)",
                hint: "run chown \(agentUID == 0 ? "root" : String(agentUID)) \(path)")
        }
        return nil
    }

    /// `mode` as four octal digits (0600).
    public static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
