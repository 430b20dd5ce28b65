/// A Cinder API microversion, "3.44".
public struct Microversion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) {
        self.major = major
        self.minor = minor
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.init(major, minor)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.major, lhs.minor) < (rhs.major, rhs.minor) }
    public var description: String { "\(major).\(minor)" }

    /// The attachments API with attach completion (os-complete), which Tether prefers.
    public static let attachments = Microversion(3, 44)
    /// What Tether asks for at most: Zed's 3.70 is the newest it was tested against.
    public static let newestKnown = Microversion(3, 70)
    /// Below this Cinder has no attachments API at all; Tether uses the legacy actions.
    public static let legacy = Microversion(3, 0)
}
