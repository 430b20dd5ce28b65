import TetherCore

#if canImport(Glibc)
import Glibc
#endif

extension TetherError.Code {
    /// tetherd refused this client: it is neither root nor in the API socket's group. Its kind
    /// is `denied` (exit 5), from its last word.
    public static let agentDenied = Self(rawValue: "agent.denied")
}

extension TetherError {
    /// tetherd's socket could not be connected to.
    public static func agentUnavailable(socketPath: String, errno error: Int32) -> TetherError {
        let hint =
            switch error {
            case EACCES, EPERM:
                "only root and members of the socket's group \(UnixHTTPClient.socketGroup(socketPath)) may use tetherd: run tether as root or as a member of that group, or pass --socket / set TETHER_SOCKET"
            default:
                "start tetherd, or pass --socket / set TETHER_SOCKET"
            }
        return TetherError(
            .agentUnavailable, "cannot reach tetherd at \(socketPath): \(UnixHTTPClient.errorText(error))",
            hint: hint)
    }

    /// A non-2xx answer of tetherd whose body is not an error body.
    static func unexpectedAnswer(_ response: HTTPResponse) -> TetherError {
        let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            .map { $0.isNewline ? " " : $0 }
        let body = text.isEmpty ? "(empty body)" : String(text)
        return TetherError(.internalError, "agent answered HTTP \(response.status): \(body)")
    }
}

extension TetherError.Code {
    /// The command line itself is wrong (ArgumentParser's usage error): `tether` exits 64 for it.
    /// Only the client makes it, for `--json`'s error body; tetherd never answers it.
    public static let usage = Self(rawValue: "usage")
}
