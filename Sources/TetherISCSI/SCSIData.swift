/// Parsers for the SCSI data Tether reads: pure functions over the bytes a target returned.
public enum SCSIData {
    /// LUN numbers from REPORT LUNS parameter data (SPC-4 6.33), peripheral and flat addressing.
    public static func reportedLUNs(_ bytes: [UInt8]) -> [Int] {
        guard bytes.count >= 8 else { return [] }
        let listLength = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        let end = min(bytes.count, 8 + listLength)
        return stride(from: 8, to: end - 7, by: 8).map { offset in
            (Int(bytes[offset]) & 0x3f) << 8 | Int(bytes[offset + 1])
        }
    }

    /// Last LBA and block length from READ CAPACITY(16) data (SBC-3 5.16).
    public static func capacity16(_ bytes: [UInt8]) -> (lastLBA: UInt64, blockLength: UInt32)? {
        guard bytes.count >= 12 else { return nil }
        let lastLBA = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let blockLength = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return (lastLBA, blockLength)
    }

    /// One designation descriptor of VPD page 0x83.
    public struct Designator: Sendable, Hashable {
        public var codeSet: Int
        public var association: Int
        public var type: Int
        public var value: [UInt8]
    }

    /// The designation descriptors of a VPD 0x83 page (SPC-4 7.8.6).
    public static func designators(vpd83 bytes: [UInt8]) -> [Designator] {
        guard bytes.count >= 4, bytes[1] == 0x83 else { return [] }
        let end = min(bytes.count, 4 + (Int(bytes[2]) << 8 | Int(bytes[3])))
        var result: [Designator] = []
        var offset = 4
        while offset + 4 <= end {
            let length = Int(bytes[offset + 3])
            guard offset + 4 + length <= end else { break }
            result.append(
                Designator(
                    codeSet: Int(bytes[offset] & 0x0f), association: Int(bytes[offset + 1] >> 4 & 0x3),
                    type: Int(bytes[offset + 1] & 0x0f), value: Array(bytes[offset + 4..<offset + 4 + length])))
            offset += 4 + length
        }
        return result
    }

    /// The LUN's WWID in the kernel's sysfs `device/wwid` form ("naa.6…", "eui.…", "t10.…"),
    /// chosen as Linux's `scsi_vpd_lun_id` chooses among designators of the logical unit:
    /// NAA before EUI-64 before SCSI name before T10 vendor id, and the longest of a kind first
    /// (tgt reports an 8-byte NAA 3 before the 16-byte NAA 6 that carries the LUN's scsi_id).
    public static func wwid(vpd83 bytes: [UInt8]) -> String? {
        func rank(_ designator: Designator) -> Int {
            switch designator.type {
            case 3: 0
            case 2: 1
            case 8: 2
            case 1: 3
            default: 9
            }
        }
        let best = designators(vpd83: bytes)
            .filter { $0.association == 0 && rank($0) < 9 }
            .min { (rank($0), -$0.value.count) < (rank($1), -$1.value.count) }
        switch best?.type {
        case 3?: return "naa." + hex(best!.value)
        case 2?: return "eui." + hex(best!.value)
        case 8?: return text(best!.value).lowercased()
        case 1?: return "t10." + text(best!.value)
        default: return nil
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] })
    }

    static func text(_ bytes: [UInt8]) -> String {
        let trimmed = bytes.prefix { $0 != 0 }
        let words = String(decoding: trimmed, as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
        return words.joined(separator: " ")
    }
}
