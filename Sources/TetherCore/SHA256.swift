internal import Crypto

/// SHA-256 (FIPS 180-4) through swift-crypto, for ids derived from names: SCSI ids, secret
/// UUIDs. Not for anything secret; those come from the system's random generator.
public enum SHA256 {
    public static func digest(_ message: [UInt8]) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: message))
    }

    public static func hex(of message: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(64)
        for byte in digest(message) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return text
    }
}
