import Foundation
import TetherCore

/// cephx keys: what a well-formed one looks like, the keyring text, keys inside an inline keyring.
///
/// Every function here reveals a key only to look at it, and hands back a `Secret` or a verdict.
enum CephKey {
    /// Why `key` is not a base64 cephx key, or nil when it is. The reason never contains the key.
    ///
    /// A key is Ceph's encoded `CryptoKey`: type (2 bytes), created (8), length (2, little endian),
    /// then that many secret bytes. Checking the length catches a key cut short when pasted.
    static func problem(with key: Secret) -> String? {
        key.reveal { text in
            guard !text.isEmpty else { return "it is empty" }
            guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+/=".contains($0)) }),
                let bytes = Data(base64Encoded: text), bytes.count > 12
            else { return "it is not a base64 cephx key (as `ceph auth print-key` prints it)" }
            let length = Int(bytes[bytes.startIndex + 10]) | Int(bytes[bytes.startIndex + 11]) << 8
            guard length > 0, length == bytes.count - 12 else {
                return "it decodes to \(bytes.count) bytes, which is not a whole cephx key; was it cut short?"
            }
            return nil
        }
    }

    /// A key file's contents: the key and a newline, as `ceph auth print-key` writes it.
    static func keyFileContents(_ key: Secret) -> Secret {
        key.reveal { Secret("\($0)\n") }
    }

    /// A key read from a key file: surrounding whitespace is not part of the key.
    static func fromKeyFile(_ text: String) -> Secret {
        Secret(text.trimmingSpaces)
    }

    /// The keyring librados reads for `user`: exactly "[client.<user>]\n\tkey = <key>\n".
    static func keyring(user: String, key: Secret) -> Secret {
        key.reveal { Secret("[client.\(user)]\n\tkey = \($0)\n") }
    }

    /// The (entity, key) pairs of a keyring's text (`[client.x]` then `key = ...`), or the key
    /// alone when the text is just a key, as some tools send it. Caps and comments are skipped.
    static func entries(inKeyring keyring: Secret) -> [(entity: String?, key: Secret)] {
        keyring.reveal { text in
            var entity: String?
            var entries: [(entity: String?, key: Secret)] = []
            for rawLine in text.split(whereSeparator: \.isNewline) {
                let line = rawLine.drop(while: \.isWhitespace)
                if line.hasPrefix("[") {
                    entity = line.dropFirst().prefix { $0 != "]" }.trimmingSpaces
                    continue
                }
                guard let equals = line.firstIndex(of: "="), line[..<equals].trimmingSpaces == "key" else { continue }
                entries.append((entity, Secret(line[line.index(after: equals)...].trimmingSpaces)))
            }
            if entries.isEmpty {
                let bare = Secret(Substring(text).trimmingSpaces)
                if problem(with: bare) == nil { entries.append((nil, bare)) }
            }
            return entries
        }
    }

    /// True when `contents` is exactly a keyring Tether writes for `user` (one section, one key,
    /// nothing else), so Tether may replace or delete it without losing someone else's file.
    static func isTetherKeyring(_ contents: Secret, user: String) -> Bool {
        contents.reveal { text in
            let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingSpaces }.filter { !$0.isEmpty }
            guard lines.count == 2, lines[0] == "[client.\(user)]" else { return false }
            let parts = lines[1].split(separator: "=", maxSplits: 1)
            return parts.count == 2 && parts[0].trimmingSpaces == "key" && problem(with: Secret(parts[1].trimmingSpaces)) == nil
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing blanks and line ends.
    var trimmingSpaces: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
