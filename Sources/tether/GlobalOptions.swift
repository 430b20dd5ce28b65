import ArgumentParser
import Foundation
import TetherAPI
import TetherClient
import TetherCore

/// The options every subcommand that talks to tetherd takes.
struct GlobalOptions: ParsableArguments {
    /// How long tether waits for tetherd's answer unless told: an attach (logins, device settling,
    /// multipath) or a local-attach through Cinder can take a minute or more.
    static let defaultTimeoutSeconds: Int64 = 120

    @Option(
        help: ArgumentHelp(
            "tetherd's unix socket (default: $TETHER_SOCKET, else \(TetherAgentClient.defaultSocketPath)).",
            valueName: "path"))
    var socket: String?

    @Flag(help: "Print the agent's JSON answer on stdout; errors go to stderr as its JSON error body.")
    var json = false

    @Option(
        help: ArgumentHelp(
            "Seconds to wait for tetherd's answer, 1-86400 (default: \(defaultTimeoutSeconds)). tetherd carries on if tether stops waiting.",
            valueName: "seconds"))
    var timeout: String?

    func validate() throws {
        _ = try timeoutSeconds()
    }

    /// `--timeout` read with the API's grammar for timeouts: an integer 1-86400.
    func timeoutSeconds() throws -> Int64 {
        guard let timeout else { return Self.defaultTimeoutSeconds }
        var seconds: Int64 = 0
        try check { seconds = try NumberGrammar.check(.string(timeout), field: "--timeout", range: NumberGrammar.timeoutSeconds, what: "--timeout") }
        return seconds
    }

    var socketPath: String {
        if let socket { return socket }
        if let path = ProcessInfo.processInfo.environment["TETHER_SOCKET"], !path.isEmpty { return path }
        return TetherAgentClient.defaultSocketPath
    }

    var client: TetherAgentClient {
        // validate() has refused a bad --timeout before any run().
        let seconds = (try? timeoutSeconds()) ?? Self.defaultTimeoutSeconds
        return TetherAgentClient(socketPath: socketPath, timeout: .seconds(seconds), progress: showsProgress ? Self.writeToStandardError : nil)
    }
}
