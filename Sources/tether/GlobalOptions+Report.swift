import ArgumentParser
import Foundation
import TetherAPI
import TetherClient
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

extension GlobalOptions {
    /// Calls `endpoint` and prints its answer: the agent's JSON with `--json`, else `human` of it.
    func report<Value>(_ endpoint: AgentEndpoint<Value>, human: (Value) -> String) async throws {
        try await run { client in
            let reply = try await client.reply(endpoint)
            try output(reply) { human(try $0.value()) }
        }
    }

    /// The progress line is for a person at a terminal: never with --json, never into a pipe or
    /// file, and not on a terminal that says it cannot erase a line (TERM=dumb: Emacs shells).
    var showsProgress: Bool {
        !json && isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    @Sendable static func writeToStandardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Prints `reply` as the agent's JSON with `--json`, else as `human` renders it.
    func output<Value>(_ reply: AgentReply<Value>, human: (AgentReply<Value>) throws -> String) throws {
        print(json ? HumanOutput.prettyJSON(reply.body) : try human(reply))
    }

    /// Runs `body` with a client for the agent. A failure is printed to stderr (`error:` and
    /// `hint:`, or the JSON error body with `--json`) and exits with its code's exit code.
    func run(_ body: (TetherAgentClient) async throws -> Void) async throws {
        do {
            try await body(client)
        } catch {
            let failure = error as? TetherError ?? TetherError(.internalError, "\(error)", cause: error)
            Self.printError(failure, json: json)
            throw ExitCode(failure.code.exitCode)
        }
    }

    /// Runs the agent's grammar checks (TetherAPI/Validation) on arguments before anything is
    /// sent: a refusal prints as the agent's would and exits with its code (2, invalid input), so
    /// scripts see the same answer whichever side caught it.
    func check(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as TetherError {
            Self.printError(error, json: json)
            throw ExitCode(error.code.exitCode)
        }
    }

    /// Errors always go to stderr, so stdout holds only answers: with `--json` as the API's error
    /// body (`{"error": {"code", "message", "hint"}}` on one line), else as `error:` and `hint:`.
    static func printError(_ error: TetherError, json: Bool) {
        var text: String
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            // ErrorBody holds strings only: encoding it cannot fail.
            // The agent's own body when it sent one: ErrorBody(error) would drop its `id`.
            let body = (error.cause as? AgentErrorAnswer)?.body ?? ErrorBody(error)
            let data = (try? encoder.encode(body)) ?? Data()
            text = String(decoding: data, as: UTF8.self) + "\n"
        } else {
            text = "error: \(error.message)\n"
            if let hint = error.hint {
                text += "hint: \(hint)\n"
            }
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
