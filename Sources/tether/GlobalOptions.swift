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

    @Option(
        help: ArgumentHelp(
            "A remote agent's TLS listener, https://HOST:PORT (default: $TETHER_AGENT); needs --cert, --key and --ca.", valueName: "url"))
    var agent: String?

    @Option(help: ArgumentHelp("This client's certificate, PEM, for --agent (default: $TETHER_CERT).", valueName: "file"))
    var cert: String?

    @Option(help: ArgumentHelp("This client's private key, PEM, mode 0600, for --agent (default: $TETHER_KEY).", valueName: "file"))
    var key: String?

    @Option(help: ArgumentHelp("The CA that signed the remote agent's certificate, PEM, for --agent (default: $TETHER_CA).", valueName: "file"))
    var ca: String?

    func validate() throws {
        _ = try timeoutSeconds()
        try check { _ = try remoteAgent() }
    }

    /// The remote agent of --agent (or TETHER_AGENT), nil for the local socket.
    /// - Throws: `invalid_input` naming the option that is missing or wrong.
    func remoteAgent(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RemoteAgent? {
        func value(_ option: String?, _ variable: String) -> String? {
            option ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let url = value(agent, "TETHER_AGENT") else {
            if let given = [("--cert", cert), ("--key", key), ("--ca", ca)].first(where: { $0.1 != nil }) {
                throw TetherError.invalidInput("\(given.0) is only for a remote agent", hint: "add --agent https://HOST:PORT, or leave \(given.0) out")
            }
            return nil
        }
        if socket != nil {
            // --socket beats an agent the environment names; both on the command line conflict.
            if agent == nil { return nil }
            throw TetherError.invalidInput("--socket and --agent name two agents", hint: "give one: --socket for this node's agent, --agent for a remote one")
        }
        func required(_ option: String?, _ name: String, _ variable: String) throws -> String {
            guard let path = value(option, variable) else {
                throw TetherError.invalidInput("--agent needs \(name)", hint: "pass \(name) FILE or set \(variable)")
            }
            return path
        }
        return try RemoteAgent(
            url: url, certificateFile: try required(cert, "--cert", "TETHER_CERT"), keyFile: try required(key, "--key", "TETHER_KEY"),
            caFile: try required(ca, "--ca", "TETHER_CA"))
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
        let progress = showsProgress ? Self.writeToStandardError : nil
        // validate() has refused a bad --agent too.
        if let remote = (try? remoteAgent()) ?? nil {
            return TetherAgentClient(transport: TLSHTTPClient(agent: remote, timeout: .seconds(seconds)), progress: progress)
        }
        return TetherAgentClient(socketPath: socketPath, timeout: .seconds(seconds), progress: progress)
    }
}
