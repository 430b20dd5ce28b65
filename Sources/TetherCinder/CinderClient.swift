import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import TetherCore

/// Cinder's v3 API, as Tether drives it: Keystone (or noauth) auth, microversion negotiation,
/// the attachments API at 3.44+ and the legacy volume actions below it.
public actor CinderClient {
    public struct Configuration: Sendable {
        /// The volume endpoint with the project, e.g. http://cinder:8776/v3/<project>; from the
        /// Keystone catalog when nil.
        public var endpoint: String?
        public var auth: CinderAuth
        public var interface: String
        public var region: String?
        public var timeout: Duration
        /// PEM certificates to trust for https to Keystone and Cinder instead of the system's
        /// (clouds.yaml `cacert`, OS_CACERT, `[cinder] cacert`).
        public var caCertificates: String?

        public init(
            endpoint: String?, auth: CinderAuth, interface: String = "public", region: String? = nil, timeout: Duration = .seconds(30),
            caCertificates: String? = nil
        ) {
            self.caCertificates = caCertificates
            self.endpoint = endpoint
            self.auth = auth
            self.interface = interface
            self.region = region
            self.timeout = timeout
        }
    }

    let configuration: Configuration
    /// From `caCertificates`; the error of PEM that does not parse, reported at the first request.
    private let tls: Result<TLSConfiguration, TetherError>?
    private var token: Secret?
    private var endpoint: String?
    private var negotiated: Microversion?
    /// Seconds spent waiting for Cinder and Keystone, for the benchmark's breakdown.
    public private(set) var timeInAPI: Duration = .zero
    /// How often a token Cinder refused was replaced by a new one.
    public private(set) var renewals = 0

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        self.endpoint = configuration.endpoint
        self.tls = configuration.caCertificates.map(Self.trusting)
    }

    static func trusting(_ pem: String) -> Result<TLSConfiguration, TetherError> {
        do {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            return .success(tls)
        } catch {
            return .failure(
                TetherError.invalidInput("the CA certificates given for Keystone and Cinder do not parse as PEM: \(error)", hint: "check the cacert file (OS_CACERT)"))
        }
    }

    /// `request` with the configured trust roots, if any.
    private func secured(_ request: HTTPClientRequest) throws -> HTTPClientRequest {
        guard let tls else { return request }
        var request = request
        request.tlsConfiguration = try tls.get()
        return request
    }

    // MARK: - Microversions

    /// The microversion Tether speaks with this server: the newest both know.
    public func microversion() async throws -> Microversion {
        if let negotiated { return negotiated }
        let base = try await resolvedEndpoint()
        guard let url = URL(string: base), let scheme = url.scheme, let host = url.host else {
            throw TetherError.invalidInput("Cinder endpoint \(base) is not a URL")
        }
        let root = "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")/"
        let (status, body) = try await send("GET", root, body: nil, microversion: nil, what: "list its API versions", authenticated: false)
        guard status < 300 || status == 300, let document = try? JSONDecoder().decode(JSONValue.self, from: body),
            let range = CinderDocuments.versions(document)
        else {
            throw TetherError(.cinderFailed, "Cinder at \(root) answered no v3 version document (HTTP \(status))")
        }
        let chosen = min(range.max, .newestKnown)
        negotiated = chosen
        return chosen
    }

    /// Pins the microversion (tests of old servers, or an operator's choice).
    public func useMicroversion(_ version: Microversion) {
        negotiated = version
    }

    // MARK: - Volumes

    public func volume(_ id: String) async throws -> CinderVolume {
        let body = try await json("GET", "/volumes/\(id)", what: "show volume \(id)")
        guard let volume = body["volume"], let parsed = CinderVolume(volume) else {
            throw TetherError(.cinderFailed, "Cinder's answer for volume \(id) has no volume")
        }
        return parsed
    }

    // MARK: - Attachments API (3.44+)

    /// Creates an attachment for this host (no instance) and returns its id and connection_info.
    public func createAttachment(volumeID: String, connector: ConnectorProperties, mode: AccessMode) async throws -> (id: String, connectionInfo: ConnectionInfo?, attachMode: String?) {
        var attachment: [String: JSONValue] = ["volume_uuid": .string(volumeID), "connector": connector.json]
        if try await microversion() >= Microversion(3, 54) {
            attachment["mode"] = .string(mode.rawValue)
        }
        let body = try await json("POST", "/attachments", ["attachment": .object(attachment)], what: "create an attachment of volume \(volumeID)")
        guard let created = body["attachment"], let id = created["id"]?.stringValue else {
            throw TetherError(.cinderFailed, "Cinder created an attachment of \(volumeID) but answered no id")
        }
        let info = try created["connection_info"].flatMap { $0.isNull ? nil : try ConnectionInfo(json: $0) }
        return (id, info, CinderDocuments.attachMode(created))
    }

    public func completeAttachment(_ id: String) async throws {
        _ = try await json("POST", "/attachments/\(id)/action", ["os-complete": nil], what: "complete attachment \(id)")
    }

    /// Deletes an attachment; one Cinder no longer has is fine.
    public func deleteAttachment(_ id: String) async throws {
        do {
            _ = try await json("DELETE", "/attachments/\(id)", what: "delete attachment \(id)")
        } catch let error as TetherError where error.code == .notFound {
            return
        }
    }

    /// Attachments of `volumeID` made for the connector host `host` that belong to no instance and
    /// are not complete: what this host's attach, cut off before Cinder's answer arrived, may have
    /// left. Never another host's: Cinder's attachment views name no host, so the list is asked
    /// for by the `attached_host` column (set from the connector's host when Cinder exported the
    /// volume). Cinder lets admins filter by it; for others it answers 400, and nothing is found.
    /// - Throws: what Cinder answers; `invalid_input` for an empty host.
    public func unfinishedHostAttachments(volumeID: String, host: String) async throws -> [String] {
        guard !host.isEmpty, let encodedHost = host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) else {
            throw TetherError.invalidInput("no connector host to find this node's Cinder attachments of volume \(volumeID) by")
        }
        let body = try await json(
            "GET", "/attachments/detail?volume_id=\(volumeID)&attached_host=\(encodedHost)", what: "list this host's attachments of volume \(volumeID)")
        return (body["attachments"]?.arrayValue ?? []).compactMap { attachment in
            guard attachment["volume_id"]?.stringValue == volumeID, let id = attachment["id"]?.stringValue else { return nil }
            let instance = attachment["instance"]?.stringValue ?? ""
            let status = attachment["status"]?.stringValue ?? ""
            return instance.isEmpty && status != "attached" ? id : nil
        }
    }

    // MARK: - Legacy actions (below 3.44)

    public func reserve(_ volumeID: String) async throws {
        _ = try await action(volumeID, "os-reserve", nil)
    }

    public func unreserve(_ volumeID: String) async throws {
        _ = try await action(volumeID, "os-unreserve", nil)
    }

    public func initializeConnection(_ volumeID: String, connector: ConnectorProperties) async throws -> ConnectionInfo {
        let body = try await action(volumeID, "os-initialize_connection", ["connector": connector.json])
        guard let info = body["connection_info"] else {
            throw TetherError(.cinderFailed, "Cinder's initialize_connection of \(volumeID) answered no connection_info")
        }
        return try ConnectionInfo(json: info)
    }

    public func attach(_ volumeID: String, hostName: String, mountpoint: String, mode: AccessMode) async throws {
        _ = try await action(volumeID, "os-attach", ["host_name": .string(hostName), "mountpoint": .string(mountpoint), "mode": .string(mode.rawValue)])
    }

    public func beginDetaching(_ volumeID: String) async throws {
        _ = try await action(volumeID, "os-begin_detaching", nil)
    }

    public func terminateConnection(_ volumeID: String, connector: ConnectorProperties) async throws {
        _ = try await action(volumeID, "os-terminate_connection", ["connector": connector.json])
    }

    public func detach(_ volumeID: String, attachmentID: String?) async throws {
        _ = try await action(volumeID, "os-detach", attachmentID.map { ["attachment_id": .string($0)] } ?? [:])
    }

    private func action(_ volumeID: String, _ name: String, _ argument: JSONValue?) async throws -> JSONValue {
        try await json("POST", "/volumes/\(volumeID)/action", .object([name: argument ?? .null]), what: "\(name) volume \(volumeID)")
    }

    // MARK: - HTTP

    func json(_ method: String, _ path: String, _ body: JSONValue? = nil, what: String) async throws -> JSONValue {
        let base = try await resolvedEndpoint()
        let version = try await microversion()
        var (status, data) = try await send(method, base + path, body: body, microversion: version, what: what, authenticated: true)
        if status == 401, configuration.auth.canRenew {
            // The token expired or was revoked since it was issued: Keystone's 401 means Cinder
            // did nothing, so the same request with a new token is safe. Once: a second 401 is
            // the credentials' fault, not the token's age.
            token = nil
            renewals += 1
            (status, data) = try await send(method, base + path, body: body, microversion: version, what: what, authenticated: true)
        }
        guard (200..<300).contains(status) else {
            throw CinderDocuments.error(status: status, body: data, what: what)
        }
        if data.isEmpty { return .null }
        return (try? JSONDecoder().decode(JSONValue.self, from: data)) ?? .null
    }

    private func resolvedEndpoint() async throws -> String {
        if let endpoint { return endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint }
        _ = try await authToken()
        guard let endpoint else {
            throw TetherError.invalidInput("no Cinder endpoint: none configured and none in the Keystone catalog", hint: "set [cinder] endpoint")
        }
        return endpoint
    }

    private func authToken() async throws -> String {
        if let token { return token.reveal { $0 } }
        switch configuration.auth {
        case .noauth(let user, let project):
            let value = "\(user):\(project)"
            token = Secret(value)
            return value
        case .token(nil, let given):
            token = given
            return given.reveal { $0 }
        default:
            guard let authURL = configuration.auth.authURL, let request = configuration.auth.keystoneRequest() else {
                throw TetherError.invalidInput("Keystone auth needs an auth URL", hint: "set [cinder] auth_url or OS_AUTH_URL")
            }
            let url = authURL.hasSuffix("/v3") ? authURL + "/auth/tokens" : authURL + (authURL.hasSuffix("/") ? "" : "/") + "v3/auth/tokens"
            var http = HTTPClientRequest(url: url)
            if case .token(_, let given) = configuration.auth {
                // A given token is validated, not exchanged: Keystone answers its own catalog,
                // where exchanging it without a scope would answer an unscoped token and none.
                http.method = .GET
                given.reveal { value in
                    http.headers.add(name: "X-Auth-Token", value: value)
                    http.headers.add(name: "X-Subject-Token", value: value)
                }
            } else {
                http.method = .POST
                http.headers.add(name: "Content-Type", value: "application/json")
                http.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(request)))
            }
            let started = ContinuousClock.now
            let response: HTTPClientResponse
            do {
                response = try await HTTPClient.shared.execute(try secured(http), timeout: .seconds(configuration.timeout.components.seconds))
            } catch let error as TetherError {
                throw error
            } catch {
                throw TetherError(.cinderUnreachable, "cannot reach Keystone at \(authURL): \(error)", hint: "check [cinder] auth_url")
            }
            let data = Data(buffer: try await response.body.collect(upTo: 8 << 20))
            timeInAPI += ContinuousClock.now - started
            guard response.status.code == 201 || response.status.code == 200, let subject = response.headers.first(name: "X-Subject-Token") else {
                throw CinderDocuments.error(status: Int(response.status.code), body: data, what: "issue a Keystone token")
            }
            token = Secret(subject)
            if endpoint == nil, let document = try? JSONDecoder().decode(JSONValue.self, from: data) {
                endpoint = CinderDocuments.endpoint(catalog: document, interface: configuration.interface, region: configuration.region)
            }
            return subject
        }
    }

    private func send(_ method: String, _ url: String, body: JSONValue?, microversion: Microversion?, what: String, authenticated: Bool) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Accept", value: "application/json")
        if authenticated {
            request.headers.add(name: "X-Auth-Token", value: try await authToken())
        }
        if let microversion {
            request.headers.add(name: "OpenStack-API-Version", value: "volume \(microversion)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        }
        let started = ContinuousClock.now
        defer { timeInAPI += ContinuousClock.now - started }
        do {
            let response = try await HTTPClient.shared.execute(try secured(request), timeout: .seconds(configuration.timeout.components.seconds))
            let data = Data(buffer: try await response.body.collect(upTo: 8 << 20))
            return (Int(response.status.code), data)
        } catch let error as TetherError {
            throw error
        } catch {
            throw TetherError(.cinderUnreachable, "cannot reach Cinder to \(what) at \(url): \(error)", hint: "check that cinder-api is up and [cinder] endpoint")
        }
    }
}
