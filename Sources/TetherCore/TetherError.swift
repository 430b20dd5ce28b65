/// The one error type of Tether: a stable code, what failed, and what to do next.
///
/// Modules add factories in `TetherError+<Module>.swift`. The `cause` is for logs and
/// `--debug` only; it never goes on the wire.
public struct TetherError: Error, Sendable {
    public var code: Code
    public var message: String
    public var hint: String?
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, hint: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
    }
}

extension TetherError: CustomStringConvertible {
    public var description: String {
        var text = "\(code): \(message)"
        if let hint { text += " (hint: \(hint))" }
        return text
    }
}

extension TetherError.Code {
    public static let invalidInput = Self(rawValue: "invalid_input")
    public static let unsupported = Self(rawValue: "unsupported")
    public static let notFound = Self(rawValue: "not_found")
    public static let conflict = Self(rawValue: "conflict")
    public static let timedOut = Self(rawValue: "timed_out")
    public static let shuttingDown = Self(rawValue: "shutting_down")
    public static let internalError = Self(rawValue: "internal")
    public static let agentUnavailable = Self(rawValue: "agent_unavailable")
    public static let hostCommandFailed = Self(rawValue: "host.command_failed")
    /// A feature this node has no configuration for (Cinder, say).
    public static let notConfigured = Self(rawValue: "not_configured")
    /// HTTP: a request body over the agent's limit (413).
    public static let bodyTooLarge = Self(rawValue: "body_too_large")
    /// HTTP: a body that is not `application/json` (415).
    public static let unsupportedMediaType = Self(rawValue: "unsupported_media_type")
    /// HTTP: a request that did not arrive whole in time (408).
    public static let requestTimedOut = Self(rawValue: "request_timed_out")

    public static let iscsiUnreachable = Self(rawValue: "iscsi.unreachable")
    public static let iscsiAuthFailed = Self(rawValue: "iscsi.auth_failed")
    public static let iscsiNotAuthorized = Self(rawValue: "iscsi.not_authorized")
    public static let iscsiLoginFailed = Self(rawValue: "iscsi.login_failed")
    public static let iscsiLUNNotFound = Self(rawValue: "iscsi.lun_not_found")
    public static let iscsiWWIDMismatch = Self(rawValue: "iscsi.wwid_mismatch")
    public static let iscsiCommandFailed = Self(rawValue: "iscsi.command_failed")
    public static let targetFailed = Self(rawValue: "target.failed")
    /// The TLS listener: the client certificate's roles do not cover the request (403).
    public static let apiRoleDenied = Self(rawValue: "api.denied")
}

extension TetherError.Code {
    /// What a failure with this code means to a caller, which fixes its HTTP status and exit code.
    public enum Kind: Sendable {
        case invalidInput, notFound, conflict, denied, unreachable, unavailable, failed
    }

    public var kind: Kind {
        switch self {
        case .invalidInput, .unsupported, .bodyTooLarge, .unsupportedMediaType, .requestTimedOut: .invalidInput
        case .notFound, .iscsiLUNNotFound: .notFound
        case .conflict, .iscsiWWIDMismatch: .conflict
        case .iscsiAuthFailed, .iscsiNotAuthorized, .apiRoleDenied: .denied
        case .iscsiUnreachable, .timedOut: .unreachable
        case .agentUnavailable, .shuttingDown, .notConfigured: .unavailable
        // Modules' own codes say their kind in their last word: "cinder.unreachable".
        default:
            rawValue.hasSuffix(".unreachable") ? .unreachable : rawValue.hasSuffix(".denied") ? .denied : .failed
        }
    }

    /// The HTTP status the agent answers with.
    public var httpStatus: Int {
        switch kind {
        case .invalidInput:
            switch self {
            case .bodyTooLarge: 413
            case .unsupportedMediaType: 415
            case .requestTimedOut: 408
            default: 400
            }
        case .notFound: 404
        case .conflict: 409
        case .denied: 403
        case .unreachable: 504
        case .unavailable: 503
        case .failed: self == .internalError ? 500 : 502
        }
    }

    /// The `tether` exit code; README lists the table.
    public var exitCode: Int32 {
        switch kind {
        case .failed: 1
        case .invalidInput: 2
        case .notFound: 3
        case .conflict: 4
        case .denied: 5
        case .unreachable: 6
        case .unavailable: 7
        }
    }
}

extension TetherError {
    public static func invalidInput(_ message: String, hint: String? = nil) -> TetherError {
        TetherError(.invalidInput, message, hint: hint)
    }

    public static func missingField(_ field: String, in what: String) -> TetherError {
        TetherError(
            .invalidInput, "\(what) has no \(field)",
            hint: "add \"\(field)\" to the request; Cinder's initialize_connection output has it")
    }

    public static func timedOut(_ what: String, after limit: Duration) -> TetherError {
        TetherError(.timedOut, "\(what) did not finish within \(limit)", hint: "check that the peer is reachable, or raise the timeout in tether.toml")
    }
}
