import TetherCore

extension TetherError.Code {
    /// Multipath was required (enforce_multipath) but multipathd does not answer.
    public static let multipathUnavailable = Self(rawValue: "multipath.unavailable")
    /// multipathd did not build, flush or resize a map.
    public static let multipathFailed = Self(rawValue: "multipath.failed")
}
