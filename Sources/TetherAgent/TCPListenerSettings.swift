import TetherCore

/// `[api.tcp]`: the TLS listener other nodes' agents and orchestrators call. Off unless `listen`
/// is set; then TLS only, every client presents a certificate signed by `ca`, and what it may do
/// follows from the names in that certificate (`readers`, `attachers`, `exporters`, `admins`).
public struct TCPListenerSettings: Sendable, Equatable {
    /// The address to bind: an IP address (or host name) and a port.
    public var host: String
    public var port: Int
    /// PEM: this agent's certificate (then any intermediates), its private key (0600), and the
    /// CA(s) client certificates must chain to.
    public var certificateFile: String
    public var keyFile: String
    public var caFile: String
    public var roles: ClientRoles

    public init(host: String, port: Int, certificateFile: String, keyFile: String, caFile: String, roles: ClientRoles) {
        self.host = host
        self.port = port
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.roles = roles
    }

    static let table = "api.tcp"
    static let keys: Set<String> = ["listen", "cert", "key", "ca", "readers", "attachers", "exporters", "admins"]

    /// The table's settings; nil when tether.toml has no `[api.tcp]`.
    /// - Throws: `ConfigurationError` naming the file and the key.
    static func read(_ reader: inout AgentConfiguration.Reader) throws -> TCPListenerSettings? {
        guard reader.document[table] != nil else { return nil }
        let file = reader.file
        guard let listen = try reader.string(table, "listen") else {
            throw ConfigurationError(file: file, message: "[api.tcp] has no listen: set listen = \"0.0.0.0:8443\" (address and port), or remove the table")
        }
        let (host, port) = try parseListen(listen, file: file)
        func path(_ key: String, _ what: String) throws -> String {
            try reader.pemPath(table, key, needs: "the TLS listener needs \(what)")
        }
        var roles = ClientRoles()
        for role in APIRole.allCases {
            for name in try reader.strings(table, role.configurationKey) ?? [] {
                guard !name.isEmpty, name.count <= 255, !name.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "\0" }) else {
                    throw ConfigurationError(
                        file: file, message: "[api.tcp] \(role.configurationKey): \"\(name)\" is not a certificate name (a CN or SAN without spaces, 1-255 characters)")
                }
                roles.grant(role, to: name)
            }
        }
        return TCPListenerSettings(
            host: host, port: port, certificateFile: try path("cert", "this agent's certificate"), keyFile: try path("key", "this agent's private key"),
            caFile: try path("ca", "the CA that signs client certificates"), roles: roles)
    }

    /// `HOST:PORT` or `[IPV6]:PORT`.
    static func parseListen(_ text: String, file: String) throws -> (String, Int) {
        let problem = ConfigurationError(
            file: file, message: "[api.tcp] listen \"\(text)\" is not ADDRESS:PORT (port 1-65535), e.g. \"0.0.0.0:8443\" or \"[::]:8443\"")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { throw problem }
        var host = String(text[..<colon])
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { throw problem }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw problem
        }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "\0" || $0 == "/" }) else { throw problem }
        return (host, port)
    }
}

/// What a TLS client may do. Every role may read (GET); `admin` may do everything.
public enum APIRole: String, Sendable, CaseIterable, Codable {
    /// GETs only: health, metrics, connector, lists.
    case reader
    /// Attachments, local-attachments and connections: create, extend, delete.
    case attacher
    /// Exports: initialize and terminate connections on this (storage) node.
    case exporter
    /// Clusters, reconcile, and everything else.
    case admin

    /// The tether.toml key listing the names that hold this role.
    var configurationKey: String { rawValue + "s" }

    /// The role a request needs. Anything not named here (clusters, reconcile, a route added
    /// later) needs admin: a new route is closed to remote callers until it is classified.
    static func required(method: String, path: String) -> APIRole {
        if method == "GET" || method == "HEAD" { return .reader }
        let parts = path.prefix { $0 != "?" }.split(separator: "/").map(String.init)
        guard parts.count >= 2, parts[0] == "v1" else { return .admin }
        switch (method, parts[1]) {
        case ("POST", "attachments"), ("DELETE", "attachments"), ("POST", "local-attachments"), ("DELETE", "local-attachments"),
            ("POST", "cinder"), ("DELETE", "cinder"), ("POST", "connections"), ("DELETE", "connections"):
            return .attacher
        case ("POST", "exports"), ("DELETE", "exports"):
            return .exporter
        default:
            return .admin
        }
    }
}

/// Which certificate names hold which roles (`[api.tcp] readers = ["monitor-1"]`, ...). A name
/// matches a certificate's subject CN or any of its DNS or URI SANs; a certificate holds the
/// roles of all its names.
public struct ClientRoles: Sendable, Equatable {
    private var byName: [String: Set<APIRole>] = [:]

    public init() {}

    public mutating func grant(_ role: APIRole, to name: String) {
        byName[name, default: []].insert(role)
    }

    public func roles(of names: [String]) -> Set<APIRole> {
        names.reduce(into: Set<APIRole>()) { $0.formUnion(byName[$1] ?? []) }
    }

    /// Whether `held` lets a caller make a request that needs `required`.
    public static func allows(_ held: Set<APIRole>, _ required: APIRole) -> Bool {
        held.contains(.admin) || held.contains(required) || (required == .reader && !held.isEmpty)
    }
}
