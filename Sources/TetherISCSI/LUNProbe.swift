import TetherCore

/// What one look at a LUN through a fresh session found (`ISCSISession.probe`): the LUNs the
/// target reports, and the answers to INQUIRY VPD 0x83 and READ CAPACITY(16) for the LUN asked
/// about. The two are results: sent together with REPORT LUNS, they fail on a LUN that is not
/// there, and the caller names that from `luns` first.
public struct LUNProbe: Sendable {
    public var luns: [Int]
    public var vpd83: Result<[UInt8], TetherError>
    public var capacity: Result<(bytes: UInt64, blockLength: UInt32), TetherError>
}
