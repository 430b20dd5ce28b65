import Foundation
import TetherCeph
import TetherCinder
import TetherCore

/// `[cinder]` in tether.toml, completed from the usual OS_* variables of tetherd's environment.
///
/// Secrets come from files (`password_file`, `application_credential_secret_file`, `token_file`),
/// or from OS_PASSWORD / OS_APPLICATION_CREDENTIAL_SECRET / OS_TOKEN in the environment; never
/// from a command line.
public struct CinderSettings: Sendable {
    public var client: CinderClient.Configuration
    /// A fixed microversion instead of negotiating ("3.0" forces the legacy flow).
    public var microversion: Microversion?
    /// How often the agent retries finishing what Cinder could not be told (Cinder down).
    public var retryInterval: Duration

    static let keys: Set<String> = [
        "endpoint", "auth_type", "auth_url", "username", "user_domain_name", "password_file", "project_name", "project_id",
        "project_domain_name", "application_credential_id", "application_credential_secret_file", "token_file", "noauth_user",
        "interface", "region", "timeout", "microversion", "retry_interval", "cacert",
    ]

    /// nil when neither tether.toml nor the environment mention Cinder.
    static func read(_ reader: inout AgentConfiguration.Reader, environment: [String: String]) throws -> CinderSettings? {
        let file = reader.file
        let hasTable = reader.document["cinder"] != nil
        func value(_ key: String, _ variables: [String]) throws -> String? {
            if let configured = try reader.string("cinder", key) { return configured }
            return variables.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        func secret(_ fileKey: String, _ variable: String, _ what: String) throws -> Secret? {
            if let path = try reader.string("cinder", fileKey) {
                return try Self.secretFile(path, key: fileKey, what: what, file: file)
            }
            return environment[variable].flatMap { $0.isEmpty ? nil : Secret($0) }
        }
        let authType = try value("auth_type", ["OS_AUTH_TYPE"])
        let endpoint = try value("endpoint", ["OS_VOLUME_ENDPOINT", "CINDERCLIENT_BYPASS_URL", "OS_ENDPOINT"])
        let authURL = try value("auth_url", ["OS_AUTH_URL"])
        guard hasTable || authType != nil || authURL != nil || endpoint != nil else { return nil }

        let projectID = try value("project_id", ["OS_PROJECT_ID", "OS_TENANT_ID"])
        let projectName = try value("project_name", ["OS_PROJECT_NAME", "OS_TENANT_NAME"])
        let auth: CinderAuth
        switch authType ?? (authURL == nil ? "noauth" : "password") {
        case "noauth":
            guard let project = projectID else {
                throw ConfigurationError(file: file, message: "[cinder] noauth needs project_id (or OS_PROJECT_ID): Cinder takes it from the token")
            }
            guard endpoint != nil else {
                throw ConfigurationError(file: file, message: "[cinder] noauth needs endpoint (http://HOST:8776/v3/<project>): there is no catalog without Keystone")
            }
            auth = .noauth(user: try value("noauth_user", []) ?? "admin", project: project)
        case "password", "v3password":
            guard let authURL, let user = try value("username", ["OS_USERNAME"]) else {
                throw ConfigurationError(file: file, message: "[cinder] password auth needs auth_url and username (or OS_AUTH_URL and OS_USERNAME)")
            }
            guard let password = try secret("password_file", "OS_PASSWORD", "the Keystone password") else {
                throw ConfigurationError(file: file, message: "[cinder] password auth needs password_file (a 0600 file) or OS_PASSWORD in tetherd's environment")
            }
            guard let project = projectName ?? projectID else {
                throw ConfigurationError(file: file, message: "[cinder] password auth needs project_name (or OS_PROJECT_NAME)")
            }
            auth = .password(
                authURL: authURL, user: user, userDomain: try value("user_domain_name", ["OS_USER_DOMAIN_NAME"]) ?? "Default", password: password,
                project: project, projectDomain: try value("project_domain_name", ["OS_PROJECT_DOMAIN_NAME"]) ?? "Default")
        case "v3applicationcredential", "application_credential":
            guard let authURL, let id = try value("application_credential_id", ["OS_APPLICATION_CREDENTIAL_ID"]),
                let credential = try secret("application_credential_secret_file", "OS_APPLICATION_CREDENTIAL_SECRET", "the application credential secret")
            else {
                throw ConfigurationError(
                    file: file,
                    message: "[cinder] application credential auth needs auth_url, application_credential_id and application_credential_secret_file (or the OS_* variables)")
            }
            auth = .applicationCredential(authURL: authURL, id: id, secret: credential)
        case "token", "v3token":
            guard let token = try secret("token_file", "OS_TOKEN", "the Keystone token") else {
                throw ConfigurationError(file: file, message: "[cinder] token auth needs token_file or OS_TOKEN")
            }
            guard authURL != nil || endpoint != nil else {
                throw ConfigurationError(file: file, message: "[cinder] token auth needs endpoint (or auth_url: Keystone validates the token and answers its catalog)")
            }
            auth = .token(authURL: endpoint == nil ? authURL : nil, token: token)
        case let other:
            throw ConfigurationError(file: file, message: "[cinder] auth_type \(other) is not one of noauth, password, v3applicationcredential, token")
        }

        var microversion: Microversion?
        if let text = try value("microversion", ["OS_VOLUME_API_VERSION"]), text != "auto", text != "3" {
            guard let parsed = Microversion(text), parsed.major == 3 else {
                throw ConfigurationError(file: file, message: "[cinder] microversion \(text) is not \"auto\" or 3.N")
            }
            microversion = parsed
        }
        let timeout = try reader.seconds("cinder", "timeout") ?? .seconds(30)
        var caCertificates: String?
        if let path = try value("cacert", ["OS_CACERT"]) {
            guard let data = FileManager.default.contents(atPath: path), let pem = String(data: data, encoding: .utf8), pem.contains("-----BEGIN CERTIFICATE-----") else {
                throw ConfigurationError(file: file, message: "[cinder] cacert (or OS_CACERT) \(path) cannot be read or holds no PEM certificate")
            }
            caCertificates = pem
        }
        return CinderSettings(
            client: .init(
                endpoint: endpoint, auth: auth, interface: try value("interface", ["OS_INTERFACE", "OS_ENDPOINT_TYPE"]) ?? "public",
                region: try value("region", ["OS_REGION_NAME"]), timeout: timeout, caCertificates: caCertificates),
            microversion: microversion, retryInterval: try reader.seconds("cinder", "retry_interval") ?? .seconds(30))
    }

    /// A secret file that fails `SecretFile`'s rule: the agent runs without Cinder and says why.
    public struct RefusedSecretFile: Error, Sendable, CustomStringConvertible {
        /// The `[cinder]` key that names the file.
        public var key: String
        public var problem: SecretFile.Problem

        public var description: String { "[cinder] \(key) \(problem.message): Cinder is off on this node" }
    }

    /// A secret from a file owned by root (or tetherd's user) that group and others cannot read
    /// or write.
    /// - Throws: `RefusedSecretFile` when the file breaks that rule; `ConfigurationError` when
    ///   it cannot be read or is empty.
    static func secretFile(_ path: String, key: String, what: String, file: String) throws -> Secret {
        let status: SecretFile.Status?
        do {
            status = try LocalFileInspector.status(of: path)
        } catch let error as TetherError {
            throw ConfigurationError(file: file, message: "[cinder] \(key): \(error.message)")
        }
        // Judged before it is read: a file others may swap or read is not used at all.
        if let status, let problem = SecretFile.problem(path: path, status: status) {
            throw RefusedSecretFile(key: key, problem: problem)
        }
        guard status != nil, let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: file, message: "[cinder] \(key): cannot read \(what) from \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else {
            throw ConfigurationError(file: file, message: "[cinder] \(path) is empty; it should hold \(what)")
        }
        return Secret(text)
    }
}
