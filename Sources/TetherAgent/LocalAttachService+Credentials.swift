import TetherAPI
import TetherCinder
import TetherCore

extension LocalAttachService {
    /// Cinder as this request may use it: with the caller's credentials when the request carries
    /// them (a client of its own, dropped when the request ends: nothing of them is kept,
    /// journaled or logged), else with tetherd's `[cinder]`.
    /// - Throws: `invalid_input` naming the field of incomplete credentials; `not_configured`
    ///   when there are none at all.
    func cinder(for auth: CallerCredentials?) async throws -> CinderClient {
        guard let auth else { return try requireCinder() }
        try auth.validate(field: "auth")
        let client = CinderClient(try Self.configuration(auth, timeout: callerDefaults.timeout))
        if let pinned = callerDefaults.microversion {
            await client.useMicroversion(pinned)
        }
        return client
    }

    /// What a caller's request takes from tetherd's `[cinder]`: no credentials, only how long to
    /// wait and which microversion to speak.
    struct CallerDefaults: Sendable {
        var timeout: Duration = .seconds(30)
        var microversion: Microversion?
    }

    static func configuration(_ auth: CallerCredentials, timeout: Duration) throws -> CinderClient.Configuration {
        func required<Value>(_ value: Value?, _ key: String) throws -> Value {
            guard let value else {
                throw TetherError.invalidField(FieldPath("auth").key(key), "is missing: \(auth.authType.rawValue) auth needs it", hint: "set it in clouds.yaml's auth")
            }
            return value
        }
        let cinderAuth: CinderAuth
        switch auth.authType {
        case .password:
            cinderAuth = .password(
                authURL: try required(auth.authURL, "auth_url"), user: try required(auth.username, "username"), userDomain: auth.userDomainName ?? "Default",
                password: try required(auth.password, "password"), project: try required(auth.projectName ?? auth.projectID, "project_name"),
                projectDomain: auth.projectDomainName ?? "Default")
        case .applicationCredential:
            cinderAuth = .applicationCredential(
                authURL: try required(auth.authURL, "auth_url"), id: try required(auth.applicationCredentialID, "application_credential_id"),
                secret: try required(auth.applicationCredentialSecret, "application_credential_secret"))
        case .token:
            // With an endpoint the token is used as it is; without one Keystone validates it and answers its catalog.
            let authURL = auth.endpoint == nil ? auth.authURL : nil
            if auth.endpoint == nil { _ = try required(auth.authURL, "auth_url") }
            cinderAuth = .token(authURL: authURL, token: try required(auth.token, "token"))
        }
        let interface = (auth.interface ?? "public").replacingOccurrences(of: "URL", with: "")
        return CinderClient.Configuration(
            endpoint: auth.endpoint, auth: cinderAuth, interface: interface, region: auth.regionName, timeout: timeout, caCertificates: auth.caCertificates)
    }
}
