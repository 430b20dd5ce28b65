import TetherCore

/// What addressing the storage uses for LUNs, which decides the number Linux gives a LUN
/// (os-brick's `addressing_mode`): with flat-space addressing LUN n shows as 16384 + n.
enum LUNAddressing: String, Sendable {
    case sam = "SAM"
    case transparent
    case sam2 = "SAM2"
    case sam3Flat = "SAM3-flat"

    init(connectionInfoValue value: String?) throws {
        guard let value, !value.isEmpty else {
            self = .sam
            return
        }
        guard let mode = LUNAddressing(rawValue: value) else {
            throw TetherError.invalidInput("addressing_mode \(value) is none of SAM, transparent, SAM2, SAM3-flat")
        }
        self = mode
    }

    /// The LUN number the kernel shows for `lun`.
    func kernelLUN(_ lun: Int) -> Int {
        switch self {
        case .sam, .transparent: lun
        case .sam2: lun >= 256 ? lun + 16384 : lun
        case .sam3Flat: lun + 16384
        }
    }
}
