/// A CHAP password or a cephx key.
///
/// It prints, dumps and reflects as `<redacted>`, decodes but never encodes, and gives its
/// value only inside `reveal`, so a secret cannot reach a log line or a JSON body by accident.
public struct Secret: Sendable, Hashable {
    private let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// Calls `body` with the plain value. Keep what `body` does with it short and local.
    public func reveal<Result>(_ body: (String) throws -> Result) rethrows -> Result {
        try body(value)
    }

    public var isEmpty: Bool { value.isEmpty }

    /// A new random secret of `length` characters from an alphabet every CHAP and shell accepts.
    public static func random(length: Int = 24) -> Secret {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }
        return Secret(String(characters))
    }
}

extension Secret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

extension Secret: Decodable {
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }
}
