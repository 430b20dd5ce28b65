import TetherCore

/// `[connect]`: how this (compute) node's agent calls storage nodes' agents for `tether connect`:
/// its own client certificate and key (mode 0600), the CA that signed the storage agents'
/// certificates, how long one call to them may take, and how often an unfinished undo is retried.
/// Off (nil) unless the table is there; `connect` then answers `not_configured`.
public struct ConnectSettings: Sendable, Equatable {
    public var certificateFile: String
    public var keyFile: String
    public var caFile: String
    /// One request to a storage agent, connecting to the last byte of its answer.
    public var timeout: Duration
    /// Between retries of an undo (revoking an export) the storage node could not be told of.
    public var retryInterval: Duration

    static let table = "connect"
    static let keys: Set<String> = ["cert", "key", "ca", "timeout", "retry_interval"]

    /// The table's settings; nil when tether.toml has no `[connect]`.
    /// - Throws: `ConfigurationError` naming the file and the key.
    static func read(_ reader: inout AgentConfiguration.Reader) throws -> ConnectSettings? {
        guard reader.document[table] != nil else { return nil }
        func path(_ key: String, _ what: String) throws -> String {
            try reader.pemPath(table, key, needs: "connect needs \(what)")
        }
        return ConnectSettings(
            certificateFile: try path("cert", "this agent's client certificate"), keyFile: try path("key", "its private key"),
            caFile: try path("ca", "the CA that signed the storage agents' certificates"),
            timeout: try reader.seconds(table, "timeout") ?? .seconds(30), retryInterval: try reader.seconds(table, "retry_interval") ?? .seconds(30))
    }
}
