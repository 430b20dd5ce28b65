/// One request of tgtd's management protocol, as `tgtadm` sends it over tgtd's control socket.
///
/// Tether speaks the protocol itself instead of running `tgtadm`, because `tgtadm` takes CHAP
/// passwords only on its command line, where every user of the machine can read them.
/// Layout: `struct tgtadm_req` of tgt's usr/tgtadm.h (120 bytes, native byte order), then the
/// parameters as "key=value,key=value" text.
public struct TgtRequest: Sendable, Hashable {
    public enum Mode: Int32, Sendable {
        case system = 0, target, device, portal, lld, session, connection, account
    }

    public enum Operation: Int32, Sendable {
        case new = 0, delete, show, bind, unbind, update, stats, start, stop
    }

    public var mode: Mode
    public var operation: Operation
    public var tid: Int32 = -1
    public var lun: UInt64 = .max
    public var outgoing: Bool = false
    public var force: Bool = false
    public var parameters: String = ""

    public init(_ mode: Mode, _ operation: Operation, tid: Int32 = -1, lun: UInt64 = .max, outgoing: Bool = false, force: Bool = false, parameters: String = "") {
        self.mode = mode
        self.operation = operation
        self.tid = tid
        self.lun = lun
        self.outgoing = outgoing
        self.force = force
        self.parameters = parameters
    }

    static let headerSize = 120

    /// The bytes on the wire. Parameters end with a NUL because tgtd searches them with strstr.
    public var encoded: [UInt8] {
        let body = parameters.isEmpty ? [] : Array(parameters.utf8) + [0]
        var bytes = [UInt8](repeating: 0, count: Self.headerSize)
        func put<Value: FixedWidthInteger>(_ value: Value, at offset: Int) {
            withUnsafeBytes(of: value) { raw in
                for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
            }
        }
        put(mode.rawValue, at: 0)
        put(operation.rawValue, at: 4)
        for (index, byte) in "iscsi".utf8.enumerated() { bytes[8 + index] = byte }
        put(UInt32(Self.headerSize + body.count), at: 72)
        put(tid, at: 76)
        put(UInt64(0), at: 80)  // sid
        put(lun, at: 88)
        put(UInt32(0), at: 96)  // cid
        put(UInt32(0), at: 100)  // host_no
        put(UInt32(0), at: 104)  // device_type: disk
        put(UInt32(outgoing ? 1 : 0), at: 108)
        put(UInt32(0), at: 112)  // pack
        put(UInt32(force ? 1 : 0), at: 116)
        return bytes + body
    }
}

/// tgtd's answer: an error number of `enum tgtadm_errno` and, for show, text.
public struct TgtResponse: Sendable, Hashable {
    public var status: TgtStatus
    public var text: String

    public init(status: TgtStatus, text: String = "") {
        self.status = status
        self.text = text
    }
}

/// `enum tgtadm_errno` of tgt's usr/tgtadm_error.h.
public struct TgtStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let success = Self(rawValue: 0)
    public static let noTarget = Self(rawValue: 4)
    public static let noLUN = Self(rawValue: 5)
    public static let targetExists = Self(rawValue: 9)
    public static let lunExists = Self(rawValue: 10)
    public static let bindingExists = Self(rawValue: 11)
    public static let aclExists = Self(rawValue: 12)
    public static let aclMissing = Self(rawValue: 13)
    public static let userExists = Self(rawValue: 14)
    public static let noUser = Self(rawValue: 15)
    public static let targetActive = Self(rawValue: 19)

    static let names = [
        "success", "unknown error", "out of memory", "can't find the driver", "can't find the target",
        "can't find the logical unit", "can't find the session", "can't find the connection", "can't find the binding",
        "this target already exists", "this logical unit number already exists", "this access control rule already exists",
        "this access control rule already exists", "this access control rule does not exist", "this account already exists",
        "can't find the account", "too many accounts", "invalid request", "this target already has an outgoing account",
        "this target is still active", "this logical unit is still active", "this driver is busy", "operation isn't supported",
        "unknown parameter", "the device is locked against removal",
    ]

    public var description: String {
        rawValue < Self.names.count ? Self.names[Int(rawValue)] : "tgt error \(rawValue)"
    }
}
