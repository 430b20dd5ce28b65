import Foundation

/// Where tetherd's stderr goes: the journal, which takes `<N>` priority prefixes, or anything
/// else (a file, a terminal, a pipe), which gets plain logfmt.
public enum LogDestination: Sendable, Equatable {
    case plain
    case journal

    /// systemd sets `JOURNAL_STREAM=<device>:<inode>` (decimal) for a service whose stderr
    /// or stdout is connected to the journal (systemd.exec(5)). The variable is inherited by
    /// children and survives redirections, so it counts only when `descriptor` is still that
    /// very stream: the same device and inode.
    public static func of(descriptor: Int32, journalStream: String?) -> LogDestination {
        guard let journalStream else { return .plain }
        let parts = journalStream.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return .plain }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return .plain }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode ? .journal : .plain
    }

    /// Where this process's stderr goes.
    public static func standardError(environment: [String: String] = ProcessInfo.processInfo.environment) -> LogDestination {
        of(descriptor: STDERR_FILENO, journalStream: environment["JOURNAL_STREAM"])
    }
}
