/// The one rule for what is secret in JSON that others wrote (connection_info, connector
/// properties, driver extras) and for masking it, at any depth, including keys Tether does not
/// model. Used for the journal, logs and every API answer that echoes such JSON.
///
/// A key is secret when its name (lowercased, `-` read as `_`):
/// - contains `password`, `passwd`, `secret`, `token`, `passphrase`, `credential`, `keyring`,
///   `auth` or `private`, or
/// - ends in `key` or `keys` (`key`, `auth_key`, `apikey`, `encryption_key`),
///
/// unless it ends in `_uuid`, `_type`, `_method`, `_username` or `_enabled`: those name or describe
/// a secret (`secret_uuid`, `auth_method`, `auth_username`, `auth_enabled`) and the agent reads them
/// back to undo an attach. The rule masks too much rather than too little: `auth_url` and
/// `token_id` are masked. What a secret key holds is masked whole (an object too); null stays null.
public enum Redaction {
    public static let mask = "<redacted>"

    static let secretWords = ["password", "passwd", "secret", "token", "passphrase", "credential", "keyring", "auth", "private"]
    static let describingEndings = ["_uuid", "_type", "_method", "_username", "_enabled"]

    /// Whether the value of `key` is a credential.
    public static func isSecretKey(_ key: String) -> Bool {
        let name = key.lowercased().replacing("-", with: "_")
        if describingEndings.contains(where: { name.hasSuffix($0) }) { return false }
        if name.hasSuffix("key") || name.hasSuffix("keys") { return true }
        return secretWords.contains { name.contains($0) }
    }

    /// `value` with the value of every secret key, at any depth, replaced by `mask`.
    /// - Parameter keeping: keys that match the rule but are known not to hold a secret where
    ///   this value comes from (QEMU's `password-secret` names a secret object by id).
    public static func redact(_ value: JSONValue, keeping: Set<String> = []) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map { redact($0, keeping: keeping) })
        case .object(let object):
            var copy: [String: JSONValue] = [:]
            for (key, item) in object {
                if isSecretKey(key), !keeping.contains(key), !item.isNull {
                    copy[key] = .string(mask)
                } else {
                    copy[key] = redact(item, keeping: keeping)
                }
            }
            return .object(copy)
        default:
            return value
        }
    }

    /// Every text held under a secret key of `value`, at any depth: what must not appear in a
    /// message built from a peer's answer.
    public static func secretValues(in value: JSONValue) -> Set<String> {
        var found: Set<String> = []
        func collect(_ value: JSONValue, secret: Bool) {
            switch value {
            case .string(let text) where secret: found.insert(text)
            case .int(let number) where secret: found.insert(String(number))
            case .array(let items): items.forEach { collect($0, secret: secret) }
            case .object(let object): object.forEach { collect($0.value, secret: secret || isSecretKey($0.key)) }
            default: break
            }
        }
        collect(value, secret: false)
        // Too short to be told from ordinary text; masking them would garble every message.
        return found.filter { $0.count >= 4 && $0 != mask }
    }

    /// `text` with each of `secrets` replaced by `mask`, longest first (one may contain another).
    public static func redact(_ text: String, secrets: Set<String>) -> String {
        secrets.sorted { $0.count > $1.count }.reduce(text) { $0.replacing($1, with: mask) }
    }

    /// `error` with `secrets` masked in everything it would print. A `TetherError` keeps its code;
    /// its cause is kept as redacted text. Any other error holding a secret becomes its redacted
    /// text (`RedactedCause`), still no `TetherError`: the API answers it as a 500 whose details
    /// stay in the log.
    public static func redact(_ error: any Error, secrets: Set<String>) -> any Error {
        guard !secrets.isEmpty else { return error }
        guard var tether = error as? TetherError else {
            let text = "\(error)"
            let masked = redact(text, secrets: secrets)
            return masked == text ? error : RedactedCause(description: masked)
        }
        tether.message = redact(tether.message, secrets: secrets)
        tether.hint = tether.hint.map { redact($0, secrets: secrets) }
        tether.cause = tether.cause.map { RedactedCause(description: redact("\($0)", secrets: secrets)) }
        return tether
    }
}

/// What remains of an error's cause once its secrets are masked: its text.
public struct RedactedCause: Error, Sendable, CustomStringConvertible {
    public var description: String
}
