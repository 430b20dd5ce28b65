/// What `tgtadm --mode target --op show` reports about one target.
public struct TgtTargetState: Sendable, Hashable {
    public struct LogicalUnit: Sendable, Hashable {
        public var lun: Int
        public var scsiID: String?
        public var backingPath: String?
    }

    public var tid: Int
    public var iqn: String
    public var logicalUnits: [LogicalUnit] = []
    /// Incoming accounts bound to the target (outgoing ones are listed with " (outgoing)").
    public var accounts: [String] = []
    public var outgoingAccounts: [String] = []
    public var acl: [String] = []
    /// Initiators with a session (I_T nexus) now.
    public var connectedInitiators: [String] = []
}

/// Parser of tgtd's target listing: a pure function over its text.
public enum TgtShow {
    public static func parse(_ text: String) -> [TgtTargetState] {
        var targets: [TgtTargetState] = []
        var section = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let indent = rawLine.prefix { $0 == " " }.count
            let line = rawLine.trimmingCharacters()
            if indent == 0, line.hasPrefix("Target "), let colon = line.firstIndex(of: ":") {
                let number = line[line.index(line.startIndex, offsetBy: 7)..<colon]
                let iqn = line[line.index(after: colon)...].trimmingCharacters()
                targets.append(TgtTargetState(tid: Int(number) ?? -1, iqn: String(iqn)))
                section = ""
                continue
            }
            guard !targets.isEmpty else { continue }
            if indent == 4 {
                section = String(line)
                continue
            }
            let last = targets.count - 1
            switch section {
            case "LUN information:":
                if line.hasPrefix("LUN: "), let lun = Int(line.dropFirst(5)) {
                    targets[last].logicalUnits.append(.init(lun: lun))
                } else if !targets[last].logicalUnits.isEmpty {
                    let unit = targets[last].logicalUnits.count - 1
                    if line.hasPrefix("SCSI ID: ") {
                        targets[last].logicalUnits[unit].scsiID = value(line, "SCSI ID: ")
                    } else if line.hasPrefix("Backing store path: ") {
                        targets[last].logicalUnits[unit].backingPath = value(line, "Backing store path: ")
                    }
                }
            case "Account information:":
                if line.hasSuffix(" (outgoing)") {
                    targets[last].outgoingAccounts.append(String(line.dropLast(" (outgoing)".count)))
                } else {
                    targets[last].accounts.append(String(line))
                }
            case "ACL information:":
                targets[last].acl.append(String(line))
            case "I_T nexus information:":
                if line.hasPrefix("Initiator: ") {
                    let rest = value(line, "Initiator: ") ?? ""
                    targets[last].connectedInitiators.append(String(rest.split(separator: " ").first ?? ""))
                }
            default:
                break
            }
        }
        return targets
    }

    static func value(_ line: Substring, _ prefix: String) -> String? {
        let rest = line.dropFirst(prefix.count).trimmingCharacters()
        return rest.isEmpty || rest == "None" ? nil : String(rest)
    }
}

extension Substring {
    func trimmingCharacters() -> Substring {
        var slice = self
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
