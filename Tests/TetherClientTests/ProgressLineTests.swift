import Foundation
import Testing
import TetherAPI
import TetherCore

@testable import TetherClient

/// What the progress line writes, caught in memory.
final class Screen: @unchecked Sendable {
    private let lock = NSLock()
    private var writes: [String] = []
    var all: [String] { lock.withLock { writes } }
    func write(_ text: String) { lock.withLock { writes.append(text) } }
}

@Suite struct ProgressLineTests {
    @Test func longWaitDrawsTheLineThenErasesIt() async throws {
        let screen = Screen()
        // The wait lasts until the line was drawn, not a fixed time: on a loaded machine the
        // drawing task can start late, and a fixed sleep then ends before anything is drawn.
        let value = try await ProgressLine("attaching vol-1 (login, udev)", write: screen.write).showing {
            try await Self.waitUntilDrawn(screen)
            return 7
        }
        #expect(value == 7)
        let writes = screen.all
        // Not before a second; which seconds show depends on the machine's load.
        #expect(writes.first?.contains(try Regex(#"attaching vol-1 \(login, udev\)… [1-9][0-9]*s$"#)) == true, "\(writes)")
        #expect(writes.dropLast().allSatisfy { $0.hasPrefix(ProgressLine.clear) && $0.contains("attaching vol-1") })
        #expect(writes.last == ProgressLine.clear)
    }

    /// Returns once something was drawn; fails the test after 30 s.
    static func waitUntilDrawn(_ screen: Screen) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while screen.all.isEmpty {
            guard ContinuousClock.now < deadline else {
                Issue.record("nothing was drawn within 30 s")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test func shortWaitDrawsNothing() async throws {
        let screen = Screen()
        let started = ContinuousClock.now
        _ = try await ProgressLine("detaching v1", write: screen.write).showing { try await Task.sleep(for: .milliseconds(50)) }
        // Only a call that really returned before the delay must draw nothing: on a starved
        // machine (CI once took 24 s over this 50 ms sleep) the line is rightly shown.
        if ContinuousClock.now - started < ProgressLine.delay {
            #expect(screen.all.isEmpty)
        }
    }

    @Test func failureStillErasesTheLineAndIsRethrown() async throws {
        let screen = Screen()
        let error = await #expect(throws: TetherError.self) {
            try await ProgressLine("exporting v1", write: screen.write).showing {
                try await Self.waitUntilDrawn(screen)
                throw TetherError(.targetFailed, "tgtd said no")
            }
        }
        #expect(error?.code == .targetFailed)
        #expect(screen.all.count >= 2)
        #expect(screen.all.last == ProgressLine.clear)
    }

    @Test func endpointsNameWhatTheyWaitFor() throws {
        let rbd = ConnectionInfo(driverVolumeType: "rbd", data: ["volume_id": "v1", "name": "rbd/img"])
        let kernel = try AgentEndpoint.attach(CreateAttachmentRequest(connectionInfo: rbd, mode: .kernel))
        #expect(kernel.wait == AgentWait("attaching v1 (map, udev)", check: "tether show v1"))
        #expect(AgentEndpoint.detach("v2", force: false).wait.check == "tether show v2")
        #expect(AgentEndpoint.deleteExport(volumeID: "v3").wait.check == "tether export list")
    }

    @Test func clientTimeoutNamesTheActivityAndTheCheck() async throws {
        let (error, _) = try await CannedServer.with(answer: nil) { path in
            await #expect(throws: TetherError.self) {
                try await TetherAgentClient(socketPath: path, timeout: .milliseconds(300)).reply(.detach("vol-1", force: false))
            }
        }
        #expect(error?.code == .timedOut)
        #expect(error?.code.exitCode == 6)
        #expect(error?.message.contains("300 ms") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("detaching vol-1") == true)
        #expect(error?.hint?.contains("`tether show vol-1`") == true)
    }
}
