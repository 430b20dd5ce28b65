import Foundation
import TetherCore

/// One registry file, `clusters.d/<name>.toml`, read and written:
///
/// ```toml
/// name = "ceph-a"                     # optional; must match the file name
/// fsid = "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"
/// mon_host = ["[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "10.0.0.2:6789"]   # or one string
/// default_user = "cinder"             # optional when there is one user
/// [user.cinder]
/// key_file = "/etc/tether/keys/ceph-a.client.cinder.key"   # optional; 0600, the base64 key only
/// secret_uuid = "457eb676-33da-42ec-9a8c-9293d545c337"      # optional; else derived
/// ```
public enum CephClusterFile {
    /// Parses one registry file. A `key_file` left out is `<registryDirectory>/keys/<cluster>.client.<user>.key`.
    /// - Throws: `ConfigurationError` with the file, the line where it can tell, and what is wrong.
    public static func parse(_ text: String, path: String, registryDirectory: String) throws -> CephCluster {
        let document = try TOML.parse(text, file: path)
        let reader = Reader(document: document, text: text, file: path)
        let stem = String(path.split(separator: "/").last ?? "").removingSuffix(".toml")

        let name = try reader.string("", "name") ?? stem
        try reader.check("", "name") { try CephCluster.validate(name: name) }
        guard name == stem else {
            throw reader.fail("", "name", "the name \"\(name)\" does not match the file name \(stem).toml; name the file <name>.toml")
        }
        guard let fsidText = try reader.string("", "fsid") else { throw reader.fail("", nil, "fsid is missing") }
        guard let fsid = UUID(uuidString: fsidText) else {
            throw reader.fail("", "fsid", "fsid \"\(fsidText)\" is not a UUID (see `ceph fsid`)")
        }
        let monitorEntries: [String]
        if case .string(let line)? = document[""]?["mon_host"] {
            monitorEntries = [line]
        } else if let list = try reader.strings("", "mon_host") {
            monitorEntries = list
        } else if document[""]?["mon_host"] == nil {
            throw reader.fail("", nil, "mon_host is missing")
        } else {
            throw reader.fail("", "mon_host", "mon_host must be a string or a list of strings")
        }
        let monitors = try reader.check("", "mon_host") { try CephMonitor.parse(monitorEntries) }

        var users: [CephUser] = []
        for table in document.keys.sorted() where table.hasPrefix("user.") {
            let userName = String(table.dropFirst("user.".count))
            try reader.check(table, nil) { try CephUser.validate(name: userName) }
            let keyFile = try reader.string(table, "key_file")
                ?? CephRegistry.defaultKeyFile(cluster: name, user: userName, directory: registryDirectory)
            var secretUUID: UUID?
            if let text = try reader.string(table, "secret_uuid") {
                guard let uuid = UUID(uuidString: text) else {
                    throw reader.fail(table, "secret_uuid", "secret_uuid \"\(text)\" is not a UUID")
                }
                secretUUID = uuid
            }
            users.append(try reader.check(table, "key_file") { try CephUser(name: userName, keyFile: keyFile, secretUUID: secretUUID) })
        }
        let defaultUser = try reader.string("", "default_user")
        try reader.rejectUnknown()
        return try reader.check("", users.isEmpty ? nil : "default_user") {
            try CephCluster(name: name, fsid: fsid, monitors: monitors, users: users, defaultUser: defaultUser)
        }
    }

    /// The file for `cluster`, every value written out (also a default `key_file`), so that it
    /// reads back the same on any node. It holds no secret: 0644 is fine.
    public static func render(_ cluster: CephCluster) -> String {
        var lines = [
            "# Ceph cluster \(cluster.name) for tether. Keys live in the key files named below, never here.",
            "name = \(quote(cluster.name))",
            "fsid = \(quote(cluster.fsid.lowercased))",
            "mon_host = [\(cluster.monitors.map { quote($0.description) }.joined(separator: ", "))]",
        ]
        if let defaultUser = cluster.defaultUserName { lines.append("default_user = \(quote(defaultUser))") }
        for user in cluster.users {
            lines += ["", "[user.\(key(user.name))]", "key_file = \(quote(user.keyFile))"]
            if let uuid = user.secretUUID { lines.append("secret_uuid = \(quote(uuid.lowercased))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A TOML basic string: quote, backslash and control characters escaped (TOML 1.0 allows
    /// none of them bare), the rest as is.
    static func quote(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// A key as a table header part: bare when TOML allows (A-Z a-z 0-9 _ -), else quoted, so
    /// a user named `a.b` stays one key and reads back as `[user."a.b"]`.
    static func key(_ text: String) -> String {
        let bare = !text.isEmpty && text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
        return bare ? text : quote(text)
    }

    /// Typed values with the line they came from, for errors a person can act on.
    private struct Reader {
        let document: TOML.Document
        let text: String
        let file: String

        static let topKeys: Set = ["name", "fsid", "mon_host", "default_user"]
        static let userKeys: Set = ["key_file", "secret_uuid"]

        func fail(_ table: String, _ key: String?, _ message: String) -> ConfigurationError {
            ConfigurationError(file: file, line: line(table, key), message: message)
        }

        /// Runs `body`; a `TetherError` it throws becomes a `ConfigurationError` at `key`'s line.
        func check<Value>(_ table: String, _ key: String?, _ body: () throws -> Value) throws -> Value {
            do {
                return try body()
            } catch let error as TetherError {
                throw fail(table, key, error.message)
            }
        }

        func string(_ table: String, _ key: String) throws -> String? {
            guard let value = document[table]?[key] else { return nil }
            guard case .string(let text) = value else { throw fail(table, key, "\(key) must be a string") }
            return text
        }

        func strings(_ table: String, _ key: String) throws -> [String]? {
            guard case .array(let items)? = document[table]?[key] else { return nil }
            return try items.map {
                guard case .string(let text) = $0 else { throw fail(table, key, "\(key) must be a list of strings") }
                return text
            }
        }

        func rejectUnknown() throws {
            for table in document.keys.sorted() {
                let allowed: Set<String>
                if table.isEmpty {
                    allowed = Self.topKeys
                } else if table.hasPrefix("user.") {
                    allowed = Self.userKeys
                } else {
                    throw fail(table, nil, "unknown table [\(table)]; users are [user.NAME]")
                }
                if let unknown = document[table]?.keys.sorted().first(where: { !allowed.contains($0) }) {
                    throw fail(table, unknown, "unknown key \(unknown); known here: \(allowed.sorted().joined(separator: ", "))")
                }
            }
        }

        /// The 1-based line of `key` in `table` (of the table header when `key` is nil), or nil.
        func line(_ table: String, _ key: String?) -> Int? {
            var current = ""
            for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let line = raw.trimmingSpaces
                if line.hasPrefix("[") {
                    current = line.dropFirst().prefix { $0 != "]" }.trimmingSpaces
                    if key == nil, current == table, !table.isEmpty { return index + 1 }
                    continue
                }
                guard let key, current == table, line.hasPrefix(key) else { continue }
                if line.dropFirst(key.count).trimmingSpaces.hasPrefix("=") { return index + 1 }
            }
            return nil
        }
    }
}

extension String {
    func removingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
