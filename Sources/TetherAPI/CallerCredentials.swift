import TetherCore

/// The caller's OpenStack credentials for one local-attach or local-detach (`"auth"` in the
/// request body): what `tether --os-cloud NAME` read from clouds.yaml, or the caller's OS_*
/// variables. tetherd uses them instead of its own `[cinder]` credentials for that request only:
/// it never journals, logs or keeps them.
///
/// The secrets are `Secret`s: they print as `<redacted>`. They are encoded only here, by `tether`,
/// into the body it sends over the local socket.
public struct CallerCredentials: Sendable, Hashable {
    public enum AuthType: String, Codable, Sendable, CaseIterable {
        case password
        case applicationCredential = "v3applicationcredential"
        case token
    }

    public var authType: AuthType
    /// Keystone, e.g. https://keystone:5000/v3; may be nil for a token with `endpoint` set.
    public var authURL: String?
    public var username: String?
    public var userDomainName: String?
    public var password: Secret?
    public var projectName: String?
    public var projectID: String?
    public var projectDomainName: String?
    public var applicationCredentialID: String?
    public var applicationCredentialSecret: Secret?
    public var token: Secret?
    /// The volume endpoint (http://cinder:8776/v3/PROJECT) instead of the catalog's.
    public var endpoint: String?
    public var regionName: String?
    public var interface: String?
    /// PEM certificates to trust for TLS to Keystone and Cinder (the caller read its cacert file).
    public var caCertificates: String?

    public init(
        authType: AuthType, authURL: String? = nil, username: String? = nil, userDomainName: String? = nil, password: Secret? = nil,
        projectName: String? = nil, projectID: String? = nil, projectDomainName: String? = nil, applicationCredentialID: String? = nil,
        applicationCredentialSecret: Secret? = nil, token: Secret? = nil, endpoint: String? = nil, regionName: String? = nil,
        interface: String? = nil, caCertificates: String? = nil
    ) {
        self.authType = authType
        self.authURL = authURL
        self.username = username
        self.userDomainName = userDomainName
        self.password = password
        self.projectName = projectName
        self.projectID = projectID
        self.projectDomainName = projectDomainName
        self.applicationCredentialID = applicationCredentialID
        self.applicationCredentialSecret = applicationCredentialSecret
        self.token = token
        self.endpoint = endpoint
        self.regionName = regionName
        self.interface = interface
        self.caCertificates = caCertificates
    }

    enum CodingKeys: String, CodingKey {
        case authType = "auth_type"
        case authURL = "auth_url"
        case username
        case userDomainName = "user_domain_name"
        case password
        case projectName = "project_name"
        case projectID = "project_id"
        case projectDomainName = "project_domain_name"
        case applicationCredentialID = "application_credential_id"
        case applicationCredentialSecret = "application_credential_secret"
        case token, endpoint
        case regionName = "region_name"
        case interface
        case caCertificates = "cacert_pem"
    }
}

extension CallerCredentials: CustomStringConvertible {
    public var description: String { "CallerCredentials(\(authType.rawValue), <redacted>)" }
}

extension CallerCredentials: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            authType: try c.decode(AuthType.self, forKey: .authType), authURL: try c.decodeIfPresent(String.self, forKey: .authURL),
            username: try c.decodeIfPresent(String.self, forKey: .username), userDomainName: try c.decodeIfPresent(String.self, forKey: .userDomainName),
            password: try c.decodeIfPresent(Secret.self, forKey: .password), projectName: try c.decodeIfPresent(String.self, forKey: .projectName),
            projectID: try c.decodeIfPresent(String.self, forKey: .projectID),
            projectDomainName: try c.decodeIfPresent(String.self, forKey: .projectDomainName),
            applicationCredentialID: try c.decodeIfPresent(String.self, forKey: .applicationCredentialID),
            applicationCredentialSecret: try c.decodeIfPresent(Secret.self, forKey: .applicationCredentialSecret),
            token: try c.decodeIfPresent(Secret.self, forKey: .token), endpoint: try c.decodeIfPresent(String.self, forKey: .endpoint),
            regionName: try c.decodeIfPresent(String.self, forKey: .regionName), interface: try c.decodeIfPresent(String.self, forKey: .interface),
            caCertificates: try c.decodeIfPresent(String.self, forKey: .caCertificates))
    }
}

extension CallerCredentials: Encodable {
    /// For `tether` alone, which sends the caller's credentials to tetherd over the local socket:
    /// the one place these secrets are written out.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(authType, forKey: .authType)
        try c.encodeIfPresent(authURL, forKey: .authURL)
        try c.encodeIfPresent(username, forKey: .username)
        try c.encodeIfPresent(userDomainName, forKey: .userDomainName)
        try password?.reveal { try c.encode($0, forKey: .password) }
        try c.encodeIfPresent(projectName, forKey: .projectName)
        try c.encodeIfPresent(projectID, forKey: .projectID)
        try c.encodeIfPresent(projectDomainName, forKey: .projectDomainName)
        try c.encodeIfPresent(applicationCredentialID, forKey: .applicationCredentialID)
        try applicationCredentialSecret?.reveal { try c.encode($0, forKey: .applicationCredentialSecret) }
        try token?.reveal { try c.encode($0, forKey: .token) }
        try c.encodeIfPresent(endpoint, forKey: .endpoint)
        try c.encodeIfPresent(regionName, forKey: .regionName)
        try c.encodeIfPresent(interface, forKey: .interface)
        try c.encodeIfPresent(caCertificates, forKey: .caCertificates)
    }
}
