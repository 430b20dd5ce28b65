import TetherCore

/// What `tether` waits for on one call to tetherd: the words of its progress line, and the command
/// that tells whether the operation happened after all when tether stops waiting.
public struct AgentWait: Sendable, Hashable {
    /// What tetherd is doing, as the progress line names it: "attaching vol-1 (login, udev)".
    public var activity: String
    /// A command that shows the outcome: "tether show vol-1".
    public var check: String

    public init(_ activity: String, check: String) {
        self.activity = activity
        self.check = check
    }
}

extension TetherError {
    /// tether stopped waiting for tetherd's answer. tetherd has no deadline of its own for a
    /// request (its peers' timeouts bound each step) and carries on when the client leaves, so
    /// the operation may still complete.
    public static func agentTimedOut(_ wait: AgentWait, after limit: Duration, cause: (any Error)? = nil) -> TetherError {
        TetherError(
            .timedOut, "no answer from tetherd within \(UnixHTTPClient.seconds(limit)) (\(wait.activity))",
            hint: "tetherd carries on without tether, so the operation may still complete: check with `\(wait.check)` before retrying; wait longer with --timeout SECONDS",
            cause: cause)
    }
}
