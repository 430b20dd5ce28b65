import TetherCore

/// Sizes as the CLI reads and prints them. Binary units throughout, as qemu-img and Cinder use.
public enum ByteCount {
    private static let units: [(suffix: Character, shift: UInt64)] = [
        ("K", 10), ("M", 20), ("G", 30), ("T", 40), ("P", 50), ("E", 60),
    ]

    /// Reads `512`, `512B`, `64K`, `64M`, `1G`, `1GiB`, `2T` (any case): binary multiples.
    ///
    /// Decimal spellings such as `1GB` are refused rather than guessed at.
    /// - Throws: `TetherError` with code `.invalidInput`.
    public static func parse(_ text: String) throws -> UInt64 {
        let trimmed = text.trimmingWhitespace()
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        var suffix = trimmed.dropFirst(digits.count).uppercased()
        guard !digits.isEmpty, let number = UInt64(digits) else {
            throw invalid(text)
        }
        var shift: UInt64 = 0
        if let unit = units.first(where: { suffix.first == $0.suffix }) {
            shift = unit.shift
            suffix.removeFirst()
            guard ["", "I", "IB"].contains(suffix) else { throw invalid(text) }
        } else {
            guard ["", "B"].contains(suffix) else { throw invalid(text) }
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        guard !overflow else {
            throw TetherError.invalidInput("size \"\(text)\" is too large")
        }
        return bytes
    }

    /// `512 B`, `16.0 MiB`, `1.5 GiB`.
    public static func format(_ bytes: UInt64) -> String {
        guard let unit = units.last(where: { bytes >= 1 << $0.shift }) else {
            return "\(bytes) B"
        }
        let value = Double(bytes) / Double(UInt64(1) << unit.shift)
        let tenths = (value * 10).rounded()
        return "\(Int(tenths) / 10).\(Int(tenths) % 10) \(unit.suffix)iB"
    }

    private static func invalid(_ text: String) -> TetherError {
        TetherError.invalidInput(
            "\"\(text)\" is not a size",
            hint: "write a number of bytes, or one with a binary suffix: 512, 64M, 1G, 1GiB")
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> SubSequence {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
