import Foundation
import TetherAPI
import TetherCore
import Yams

/// The caller's OpenStack credentials, found as the openstack CLI finds them: a cloud of
/// clouds.yaml (`--os-cloud NAME` or OS_CLOUD), with secure.yaml's entry for it merged over it,
/// else the OS_* variables. `tether` reads them as the caller, so a file only the caller may
/// read stays the caller's, and sends them to tetherd in the request body, never on a command line.
public struct CallerCredentialsReader: Sendable {
    public var environment: [String: String]
    public var currentDirectory: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, currentDirectory: String = FileManager.default.currentDirectoryPath) {
        self.environment = environment
        self.currentDirectory = currentDirectory
    }

    /// The credentials for this call: `cloud` (else OS_CLOUD) from clouds.yaml, else OS_* when
    /// OS_AUTH_URL or OS_TOKEN is set; nil: none, tetherd uses its own.
    /// - Throws: `invalid_input` naming the file and key that is missing or wrong.
    public func credentials(cloud: String?) throws -> CallerCredentials? {
        if let cloud = cloud ?? environment["OS_CLOUD"].flatMap({ $0.isEmpty ? nil : $0 }) {
            return try fromCloud(cloud)
        }
        return try fromEnvironment()
    }

    // MARK: - clouds.yaml

    /// openstacksdk's search path: OS_CLIENT_CONFIG_FILE, else the first of ./NAME,
    /// ~/.config/openstack/NAME, /etc/openstack/NAME that exists.
    func searchPath(_ name: String, override variable: String) -> [String] {
        if let given = environment[variable], !given.isEmpty { return [given] }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? FileManager.default.homeDirectoryForCurrentUser.path
        return [currentDirectory + "/" + name, home + "/.config/openstack/" + name, "/etc/openstack/" + name]
    }

    public func fromCloud(_ name: String) throws -> CallerCredentials {
        let candidates = searchPath("clouds.yaml", override: "OS_CLIENT_CONFIG_FILE")
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw TetherError.invalidInput(
                "--os-cloud \(name): no clouds.yaml in \(candidates.joined(separator: ", "))", hint: "write one there, or set OS_CLIENT_CONFIG_FILE")
        }
        guard var cloud = try Self.clouds(in: path)[name] as? [String: Any] else {
            throw TetherError.invalidInput("--os-cloud \(name): \(path) has no cloud \(name) under clouds:", hint: "name one of its clouds")
        }
        let secureCandidates = searchPath("secure.yaml", override: "OS_CLIENT_SECURE_FILE")
        if let secure = secureCandidates.first(where: { FileManager.default.fileExists(atPath: $0) }),
            let overlay = try Self.clouds(in: secure)[name] as? [String: Any]
        {
            cloud = Self.merged(cloud, overlay)
        }
        return try Self.credentials(cloud: cloud, origin: "\(path): clouds.\(name)")
    }

    /// The `clouds:` mapping of a clouds.yaml or secure.yaml.
    static func clouds(in path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TetherError.invalidInput("cannot read \(path)", hint: "check that you may read it")
        }
        let document: Any?
        do {
            document = try Yams.load(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw TetherError.invalidInput("\(path) is not YAML: \(error)", hint: "fix its syntax")
        }
        guard let top = document as? [String: Any], let clouds = top["clouds"] as? [String: Any] else {
            throw TetherError.invalidInput("\(path) has no clouds: mapping", hint: "see openstacksdk's clouds.yaml format")
        }
        return clouds
    }

    /// `overlay`'s keys over `base`'s, mappings merged key by key (secure.yaml over clouds.yaml).
    static func merged(_ base: [String: Any], _ overlay: [String: Any]) -> [String: Any] {
        var result = base
        for (key, value) in overlay {
            if let inner = value as? [String: Any], let existing = result[key] as? [String: Any] {
                result[key] = merged(existing, inner)
            } else {
                result[key] = value
            }
        }
        return result
    }

    static func credentials(cloud: [String: Any], origin: String) throws -> CallerCredentials {
        let auth = cloud["auth"] as? [String: Any] ?? [:]
        func text(_ key: String, in table: [String: Any], at place: String) throws -> String? {
            switch table[key] {
            case nil, is NSNull: return nil
            case let value as String: return value
            case let value as Int: return String(value)
            default: throw TetherError.invalidInput("\(origin).\(place)\(key) is not a string", hint: "quote it")
            }
        }
        func authText(_ key: String) throws -> String? { try text(key, in: auth, at: "auth.") }
        if let verify = cloud["verify"] as? Bool, !verify {
            throw TetherError.invalidInput(
                "\(origin).verify is false: Tether always checks Keystone's and Cinder's certificates", hint: "set cacert to the CA file instead")
        }
        var caCertificates: String?
        if let path = try text("cacert", in: cloud, at: "") {
            caCertificates = try Self.pem(path, what: "\(origin).cacert")
        }
        return CallerCredentials(
            authType: try authType(try text("auth_type", in: cloud, at: ""), hasAppCredential: try authText("application_credential_id") != nil,
                                   hasToken: try authText("token") != nil, hasPassword: try authText("password") != nil, origin: "\(origin).auth_type"),
            authURL: try authText("auth_url"), username: try authText("username"), userDomainName: try authText("user_domain_name"),
            password: try authText("password").map(Secret.init), projectName: try authText("project_name"), projectID: try authText("project_id"),
            projectDomainName: try authText("project_domain_name"), applicationCredentialID: try authText("application_credential_id"),
            applicationCredentialSecret: try authText("application_credential_secret").map(Secret.init), token: try authText("token").map(Secret.init),
            endpoint: try text("block_storage_endpoint_override", in: cloud, at: "") ?? text("volume_endpoint_override", in: cloud, at: ""),
            regionName: try text("region_name", in: cloud, at: ""), interface: try text("interface", in: cloud, at: ""), caCertificates: caCertificates)
    }

    // MARK: - OS_* variables

    /// The OS_* variables, when OS_AUTH_URL or OS_TOKEN says the caller has some.
    public func fromEnvironment() throws -> CallerCredentials? {
        func value(_ names: String...) -> String? { names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty } }
        guard value("OS_AUTH_URL", "OS_TOKEN") != nil else { return nil }
        return CallerCredentials(
            authType: try Self.authType(
                value("OS_AUTH_TYPE"), hasAppCredential: value("OS_APPLICATION_CREDENTIAL_ID") != nil, hasToken: value("OS_TOKEN") != nil,
                hasPassword: value("OS_PASSWORD") != nil, origin: "OS_AUTH_TYPE"),
            authURL: value("OS_AUTH_URL"), username: value("OS_USERNAME"), userDomainName: value("OS_USER_DOMAIN_NAME"),
            password: value("OS_PASSWORD").map(Secret.init), projectName: value("OS_PROJECT_NAME", "OS_TENANT_NAME"),
            projectID: value("OS_PROJECT_ID", "OS_TENANT_ID"), projectDomainName: value("OS_PROJECT_DOMAIN_NAME"),
            applicationCredentialID: value("OS_APPLICATION_CREDENTIAL_ID"), applicationCredentialSecret: value("OS_APPLICATION_CREDENTIAL_SECRET").map(Secret.init),
            token: value("OS_TOKEN").map(Secret.init), endpoint: value("OS_VOLUME_ENDPOINT"), regionName: value("OS_REGION_NAME"),
            interface: value("OS_INTERFACE", "OS_ENDPOINT_TYPE"), caCertificates: try value("OS_CACERT").map { try Self.pem($0, what: "OS_CACERT") })
    }

    // MARK: - Shared

    /// keystoneauth's names for the ways Tether supports; without one, what the fields say.
    static func authType(_ given: String?, hasAppCredential: Bool, hasToken: Bool, hasPassword: Bool, origin: String) throws -> CallerCredentials.AuthType {
        switch given {
        case nil: return hasAppCredential ? .applicationCredential : (hasToken && !hasPassword ? .token : .password)
        case "password", "v3password": return .password
        case "v3applicationcredential", "application_credential": return .applicationCredential
        case "token", "v3token": return .token
        case let other?:
            throw TetherError.invalidInput(
                "\(origin) is \(other): Tether supports password, v3applicationcredential and token", hint: "use one of those")
        }
    }

    /// The CA file's PEM, read as the caller.
    static func pem(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TetherError.invalidInput("\(what) \(path) cannot be read", hint: "name a PEM file of CA certificates you may read")
        }
        let text = String(decoding: data, as: UTF8.self)
        guard text.contains("-----BEGIN CERTIFICATE-----") else {
            throw TetherError.invalidInput("\(what) \(path) holds no PEM certificate", hint: "name a PEM file of CA certificates")
        }
        return text
    }
}
