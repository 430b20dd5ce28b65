import ArgumentParser
import Foundation
import TetherClient

/// The options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "tetherd's unix socket (default: $TETHER_SOCKET, else \(TetherAgentClient.defaultSocketPath)).",
            valueName: "path"))
    var socket: String?

    @Flag(help: "Print the agent's JSON answer; errors go to stderr as its JSON error body.")
    var json = false

    var socketPath: String {
        if let socket { return socket }
        if let path = ProcessInfo.processInfo.environment["TETHER_SOCKET"], !path.isEmpty { return path }
        return TetherAgentClient.defaultSocketPath
    }

    var client: TetherAgentClient { TetherAgentClient(socketPath: socketPath) }
}
