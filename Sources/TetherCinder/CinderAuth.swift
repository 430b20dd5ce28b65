import TetherCore

/// How Tether proves who it is to Cinder.
public enum CinderAuth: Sendable {
    /// Cinder with `auth_strategy = noauth`: the token is "<user>:<project>", no Keystone.
    case noauth(user: String, project: String)
    /// Keystone v3 password auth, scoped to a project.
    case password(authURL: String, user: String, userDomain: String, password: Secret, project: String, projectDomain: String)
    /// Keystone v3 application credential.
    case applicationCredential(authURL: String, id: String, secret: Secret)
    /// A Keystone token obtained elsewhere; the endpoint must be configured then.
    case token(authURL: String?, token: Secret)

    /// The Keystone request body of this auth, or nil when Keystone is not involved.
    func keystoneRequest() -> JSONValue? {
        switch self {
        case .noauth:
            return nil
        case .password(_, let user, let userDomain, let password, let project, let projectDomain):
            return password.reveal { value in
                [
                    "auth": [
                        "identity": [
                            "methods": ["password"],
                            "password": ["user": ["name": .string(user), "domain": ["name": .string(userDomain)], "password": .string(value)]],
                        ],
                        "scope": ["project": ["name": .string(project), "domain": ["name": .string(projectDomain)]]],
                    ]
                ]
            }
        case .applicationCredential(_, let id, let secret):
            return secret.reveal { value in
                ["auth": ["identity": ["methods": ["application_credential"], "application_credential": ["id": .string(id), "secret": .string(value)]]]]
            }
        case .token(_, let token):
            return token.reveal { value in ["auth": ["identity": ["methods": ["token"], "token": ["id": .string(value)]]]] }
        }
    }

    /// Whether a new token can be had when Cinder refuses the current one: not for noauth (its
    /// token never changes) nor a given token (Tether holds nothing to get another with).
    var canRenew: Bool {
        switch self {
        case .noauth, .token: false
        case .password, .applicationCredential: true
        }
    }

    var authURL: String? {
        switch self {
        case .noauth: nil
        case .password(let url, _, _, _, _, _): url
        case .applicationCredential(let url, _, _): url
        case .token(let url, _): url
        }
    }
}
