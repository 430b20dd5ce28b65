/// Which Ceph messenger the kernel speaks to the cluster: libceph's `ms_mode`.
///
/// `legacy` (msgr1) needs the monitors' v1 addresses and works on every kernel; the others use
/// msgr2 and the v2 addresses, and need kernel 5.11 or later.
public enum KRBDMessengerMode: String, Sendable, Hashable, CaseIterable {
    case legacy
    case crc
    case secure
    case preferCRC = "prefer-crc"
    case preferSecure = "prefer-secure"

    var usesMsgr2: Bool { self != .legacy }
}
