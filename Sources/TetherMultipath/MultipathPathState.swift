/// One path as multipathd sees it: in the map (`dm_st`) and by its checker (`chk_st`).
public struct MultipathPathState: Sendable, Hashable {
    /// The path's kernel name, "sdb".
    public var device: String
    /// device-mapper's view: "active", "failed" or "undef" (not in a map yet).
    public var mapState: String
    /// The path checker's: "ready", "faulty", "shaky", "ghost", "i/o pending", "delayed", "undef".
    public var checkerState: String

    public init(device: String, mapState: String, checkerState: String) {
        self.device = device
        self.mapState = mapState
        self.checkerState = checkerState
    }

    /// Whether I/O goes through the path: active in the map and not failed by its checker.
    public var isActive: Bool { mapState == "active" && checkerState != "faulty" }

    /// The format `multipathd show paths format` is given (device, dm state, checker state).
    public static let format = "%d %t %T"

    /// Parses `multipathd show paths format "%d %t %T"`: an optional header line ("dev dm_st
    /// chk_st"), then one line per path; the checker state may hold a space ("i/o pending").
    public static func parse(_ text: String) -> [MultipathPathState] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 3, fields[0] != "dev" else { return nil }
            return MultipathPathState(device: fields[0], mapState: fields[1], checkerState: fields[2...].joined(separator: " "))
        }
    }
}
