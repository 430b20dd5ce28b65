import Foundation
import TetherCore

/// What the CLI prints for people: aligned blocks and tables, never a secret.
///
/// `--json` prints the agent's answers instead; these are for the default output only.
public enum HumanOutput {
    /// Stands in for a value the agent did not give.
    static let missing = "-"

    /// `value` as JSON text: keys sorted, slashes unescaped, pretty or on one line.
    public static func json(_ value: JSONValue, pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A JSON body pretty-printed, or as it came when it is not JSON.
    public static func prettyJSON(_ body: Data) -> String {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: body) else {
            return String(decoding: body, as: UTF8.self)
        }
        return json(value)
    }

    /// A scalar as a person reads it: strings without quotes, anything else as compact JSON.
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .null: missing
        default: json(value, pretty: false)
        }
    }

    static func yesNo(_ flag: Bool) -> String { flag ? "yes" : "no" }

    /// `value` with credentials replaced by `<redacted>`: keys that name one (`Redaction`'s rule,
    /// but for QEMU's `*-secret` options, which name a secret object by id), and the inline `data`
    /// of a QEMU `secret` object.
    /// QEMU options the rule would mask that hold no secret: references to a secret object by id,
    /// and the list of auth schemes Ceph may use.
    static let qemuSecretReferences: Set<String> = ["password-secret", "key-secret", "auth-client-required"]

    static func redacted(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map(redacted))
        case .object(let object):
            let isQEMUSecret = object["qom-type"]?.stringValue == "secret"
            var copy: [String: JSONValue] = [:]
            for (key, item) in object {
                let secret = (Redaction.isSecretKey(key) && !qemuSecretReferences.contains(key)) || (isQEMUSecret && key == "data")
                copy[key] = secret ? "<redacted>" : redacted(item)
            }
            return .object(copy)
        default:
            return value
        }
    }

    /// A heading over an indented block.
    static func section(_ title: String, _ body: String) -> String {
        let indented = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
        return "\(title):\n" + indented.joined(separator: "\n")
    }
}
