import Foundation
import TetherAPI
import TetherClient
import TetherCore
import Testing

/// The built `tether` against a fake agent that answers late, never, or with an error: the
/// progress line (on a terminal only), --timeout, and where errors go with --json.
@Suite(.timeLimit(.minutes(2)))
struct CLIWaitTests {
    static let detached = FakeAgent.json(200, #"{"detached":["a1"]}"#)

    @Test func progressLineShowsOnATerminalAndIsErased() throws {
        let run = try FakeAgent.with(answer: Self.detached, delay: .milliseconds(2500)) { socket in
            try CLI.runOnTerminal(["detach", "vol-1"], socket: socket)
        }
        #expect(run.status == 0, "\(run.stdout)")
        // Seconds as whole numbers; which ones show depends on the machine's load.
        #expect(run.stdout.contains(try Regex(#"\r\x1B\[K. detaching vol-1 \(flush, logout\)… [1-9][0-9]*s"#)), "\(run.stdout.debugDescription)")
        // Erased before the answer is printed: the answer starts on a clean line.
        let erased = try #require(run.stdout.range(of: ProgressLine.clear, options: .backwards))
        #expect(run.stdout[erased.upperBound...].contains("a1"), "\(run.stdout.debugDescription)")
    }

    @Test func noProgressLineIntoAPipe() throws {
        let run = try FakeAgent.with(answer: Self.detached, delay: .milliseconds(2500)) { socket in
            try CLI.runIntoPipe(["detach", "vol-1"], socket: socket)
        }
        #expect(run.status == 0)
        #expect(run.stdout.isEmpty, "stderr in a pipe: \(run.stdout.debugDescription)")
    }

    @Test func noProgressLineWithJSONOnATerminal() throws {
        let run = try FakeAgent.with(answer: Self.detached, delay: .milliseconds(2500)) { socket in
            try CLI.runOnTerminal(["detach", "vol-1", "--json"], socket: socket)
        }
        #expect(run.status == 0)
        #expect(!run.stdout.contains("detaching"), "\(run.stdout.debugDescription)")
        #expect(run.stdout.contains("\"detached\""))
    }

    @Test func noProgressLineOnADumbTerminal() throws {
        let run = try FakeAgent.with(answer: Self.detached, delay: .milliseconds(2500)) { socket in
            try CLI.runOnTerminal(["detach", "vol-1"], socket: socket, term: "dumb")
        }
        #expect(run.status == 0)
        #expect(!run.stdout.contains("detaching"), "\(run.stdout.debugDescription)")
    }

    @Test func quickAnswerShowsNoProgressLine() throws {
        let run = try FakeAgent.with(answer: Self.detached) { socket in
            try CLI.runOnTerminal(["detach", "vol-1"], socket: socket)
        }
        #expect(run.status == 0)
        #expect(!run.stdout.contains("detaching"), "\(run.stdout.debugDescription)")
    }

    @Test func silentAgentTimesOutWithExit6AndHowToCheck() throws {
        let started = ContinuousClock.now
        let run = try FakeAgent.with(answer: nil) { socket in
            try CLI.run(["detach", "vol-1", "--timeout", "1", "--json"], socket: socket)
        }
        let elapsed = started.duration(to: .now)
        #expect(run.status == 6, "\(run.stderr)")
        #expect(run.stdout.isEmpty)
        let error = try JSONDecoder().decode(ErrorBody.self, from: Data(run.stderr.utf8)).error
        #expect(error.code == "timed_out")
        #expect(error.message.contains("1 s"), "\(error.message)")
        #expect(error.hint?.contains("tether show vol-1") == true, "\(error.hint ?? "")")
        #expect(elapsed >= .seconds(1) && elapsed < .seconds(20), "\(elapsed)")
    }

    @Test(arguments: ["0", "86401", "abc", "-5", "1.5", "99999999999999999999999", " 7x"])
    func badTimeoutIsInvalidInputBeforeAnythingIsSent(_ value: String) throws {
        // No agent at all: the refusal must come before tether connects.
        // --timeout=VALUE: a separate "-5" would be read as an option (a usage error, exit 64).
        let run = try CLI.run(["detach", "vol-1", "--timeout=\(value)", "--json"], socket: "/nonexistent/tether.sock")
        #expect(run.status == 2, "\(run.stderr)")
        let error = try JSONDecoder().decode(ErrorBody.self, from: Data(run.stderr.utf8)).error
        #expect(error.code == "invalid_input")
        #expect(error.message.hasPrefix("--timeout:"), "\(error.message)")
    }

    @Test func agentErrorUnderJSONGoesToStderrAsTheErrorBody() throws {
        let body = #"{"error":{"code":"not_found","message":"no attachment vol-9","hint":"tether list"}}"#
        let run = try FakeAgent.with(answer: FakeAgent.json(404, body)) { socket in
            try CLI.run(["show", "vol-9", "--json"], socket: socket)
        }
        #expect(run.status == 3)
        #expect(run.stdout.isEmpty, "stdout holds answers only: \(run.stdout)")
        let error = try JSONDecoder().decode(ErrorBody.self, from: Data(run.stderr.utf8)).error
        #expect(error.code == "not_found")
        #expect(error.hint == "tether list")
    }

    @Test func internalErrorUnderJSONKeepsTheAgentsErrorID() throws {
        let body = #"{"error":{"code":"internal","message":"unexpected","hint":"tetherd's log has error_id=0123456789ab","id":"0123456789ab"}}"#
        let run = try FakeAgent.with(answer: FakeAgent.json(500, body)) { socket in
            try CLI.run(["list", "--json"], socket: socket)
        }
        #expect(run.status == 1)
        let error = try JSONDecoder().decode(ErrorBody.self, from: Data(run.stderr.utf8)).error
        #expect(error.code == "internal")
        #expect(error.id == "0123456789ab")
    }

    @Test func usageErrorUnderJSONIsAnErrorBodyToo() throws {
        let run = try CLI.run(["show", "--json"])
        #expect(run.status == 64)
        #expect(run.stdout.isEmpty)
        let error = try JSONDecoder().decode(ErrorBody.self, from: Data(run.stderr.utf8)).error
        #expect(error.code == "usage")
        #expect(error.message.contains("<ref>"), "\(error.message)")

        let plain = try CLI.run(["show"])
        #expect(plain.status == 64)
        #expect(plain.stderr.hasPrefix("Error:"), "\(plain.stderr)")
    }

    @Test func versionPrintsTheVersion() throws {
        let run = try CLI.run(["--version"])
        #expect(run.status == 0)
        #expect(run.stdout == TetherVersion.current + "\n")
    }
}
