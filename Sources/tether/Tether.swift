import ArgumentParser
import Foundation
import TetherAPI
import TetherClient
import TetherCore

@main
struct Tether: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tether",
        abstract: "Attach and export volumes through this node's tetherd.",
        discussion: """
            tether only talks to tetherd, over its unix socket. Every subcommand takes --json: \
            answers print as the agent's JSON on stdout, errors as its JSON error body on stderr. \
            Every subcommand that asks tetherd takes --timeout SECONDS (default 120); on a \
            terminal a progress line shows what tether waits for.

            Exit codes:
              0   success
              1   the operation failed
              2   invalid input
              3   not found
              4   conflict
              5   denied by tetherd, the storage or Cinder
              6   storage unreachable, or timed out (the operation may still complete)
              7   tetherd unavailable, or the feature not configured
              64  usage error
            """,
        version: TetherVersion.current,
        subcommands: [
            Connector.self, Attach.self, Detach.self, List.self, Show.self, DiskXML.self, LocalAttach.self, LocalDetach.self, LocalList.self,
            Connect.self, Disconnect.self, Connections.self,
            Extend.self, Reconcile.self, Cinder.self, Export.self, Cluster.self, Fence.self, Health.self, Doctor.self, Udev.self, Hook.self,
        ])

    /// ArgumentParser's own main, but a usage error under --json prints as an error body too, so a
    /// script reading --json's stderr always gets JSON.
    static func main() async {
        let arguments = connectionOptionsAfterCommand(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if wantsJSON(arguments), exitCode(for: error) == .validationFailure {
                GlobalOptions.printError(usageError(error), json: true)
                Foundation.exit(ExitCode.validationFailure.rawValue)
            }
            exit(withError: error)
        }
    }

    /// Which agent to ask is every command's option (GlobalOptions): `tether --agent URL --cert C
    /// --key K --ca CA export list` reads as `tether export list --agent URL ...`.
    static func connectionOptionsAfterCommand(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var rest = arguments[...]
        while let first = rest.first, connectionOptions.contains(String(first.prefix { $0 != "=" })) {
            leading.append(first)
            rest = rest.dropFirst()
            if !first.contains("="), let value = rest.first {
                leading.append(value)
                rest = rest.dropFirst()
            }
        }
        guard !leading.isEmpty else { return arguments }
        let end = rest.firstIndex(of: "--") ?? rest.endIndex
        return Array(rest[..<end]) + leading + Array(rest[end...])
    }

    static let connectionOptions: Set<String> = ["--agent", "--cert", "--key", "--ca", "--socket"]

    /// `--json` among the options (not after `--`, where it would be an argument).
    static func wantsJSON(_ arguments: [String]) -> Bool {
        arguments.prefix { $0 != "--" }.contains("--json")
    }

    /// A usage error as an error body: code `usage` (exit 64), ArgumentParser's message, its usage
    /// line and where to read more as the hint.
    static func usageError(_ error: any Error) -> TetherError {
        let lines = fullMessage(for: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let message = lines.first { $0.hasPrefix("Error: ") }.map { String($0.dropFirst("Error: ".count)) } ?? message(for: error)
        let hint = lines.filter { $0.hasPrefix("Usage: ") || $0.hasPrefix("See '") }.joined(separator: "; ")
        return TetherError(.usage, message, hint: hint.isEmpty ? "see tether --help" : hint)
    }
}
