import TetherCore

/// One open-iscsi session as sysfs shows it under /sys/class/iscsi_session/sessionN.
struct KernelISCSISession: Sendable, Hashable, CustomStringConvertible {
    /// N of sessionN; `iscsiadm -m session` prints it as [N].
    var id: Int
    var targetName: String
    /// The portal logged in to (the connection's persistent_address and port), which stays the
    /// same when the target redirects the connection.
    var address: String
    var port: Int
    /// LOGGED_IN, FAILED (reconnecting) or FREE.
    var state: String
    /// The session's device directory, …/platform/hostH/sessionN; target directories are below.
    var directory: String
    /// H of the SCSI host the session drives.
    var hostNumber: Int

    var isLoggedIn: Bool { state == "LOGGED_IN" }

    func serves(_ portal: Portal, target: String) -> Bool {
        targetName == target && port == portal.port && Self.sameHost(address, portal.host)
    }

    /// Compares addresses as the kernel prints them with those in connection_info: IPv6 in any
    /// case, with or without brackets or zero compression.
    static func sameHost(_ left: String, _ right: String) -> Bool {
        normalized(left) == normalized(right)
    }

    static func normalized(_ address: String) -> String {
        var text = address.lowercased()
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        guard text.contains(":") else { return text }
        // Expand "::" and leading zeros so two spellings of one IPv6 address compare equal.
        let groups = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let head: [String]
        let tail: [String]
        var fill: [String] = []
        if let gap = text.firstRange(of: "::") {
            head = text[..<gap.lowerBound].split(separator: ":").map(String.init)
            tail = text[gap.upperBound...].split(separator: ":").map(String.init)
            fill = Array(repeating: "0", count: max(0, 8 - head.count - tail.count))
        } else {
            head = groups
            tail = []
        }
        return (head + fill + tail).map { group in
            let trimmed = group.drop { $0 == "0" }
            return trimmed.isEmpty ? "0" : String(trimmed)
        }.joined(separator: ":")
    }

    var description: String { "session\(id) (\(targetName) at \(address):\(port), \(state))" }
}
