import Foundation
import TetherCore
import TetherLinux
import TetherFakes
import Testing

@Suite struct ChildProcessTests {
    @Test func passesStdinAndSeparatesOutputStreams() async throws {
        let result = try await LinuxHost().run(Command("/bin/sh", ["-c", "cat; echo oops >&2; exit 3"], stdin: Array("secret\n".utf8)))
        #expect(result.exitCode == 3)
        #expect(result.stdout == "secret\n")
        #expect(result.stderr == "oops\n")
    }

    @Test func killsTheProgramAtItsTimeout() async throws {
        let scratch = try TemporaryDirectory(prefix: "kill")
        defer { scratch.remove() }
        let pidFile = scratch.file("pid")
        let started = ContinuousClock.now
        let error = await #expect(throws: TetherError.self) {
            _ = try await LinuxHost().run(Command("/bin/sh", ["-c", "echo $$ > \(pidFile); exec sleep 30"], timeout: .milliseconds(300)))
        }
        #expect(error?.code == .timedOut)
        #expect(ContinuousClock.now - started < .seconds(60))
        // The program itself is gone (killed and reaped), not merely waited for no longer.
        let pid = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2).first
        #expect(state == nil || state == "Z", "sleep \(pid) is still \(state ?? "-")")
    }

    /// iscsiadm starts iscsid, which keeps whatever descriptors it was given: the call must end
    /// when the program does, not when the daemon does.
    @Test func returnsWhileADaemonItStartedRuns() async throws {
        let scratch = try TemporaryDirectory(prefix: "daemon")
        defer { scratch.remove() }
        let pidFile = scratch.file("pid")
        let result = try await LinuxHost().run(Command("/bin/sh", ["-c", "sleep 30 & echo $! > \(pidFile); echo started"], timeout: .seconds(10)))
        let pid = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(pid, SIGKILL) }
        #expect(result.stdout == "started\n")
    }

    @Test func explainsAMissingProgram() async throws {
        let error = await #expect(throws: TetherError.self) {
            _ = try await LinuxHost().run(Command("/nonexistent/iscsiadm"))
        }
        #expect(error?.code == .hostCommandFailed)
        #expect(error?.hint?.contains("install") == true)
    }
}

@Suite struct WaitingTests {
    @Test func anEventWakesTheWaiterWithoutWaitingForTheRecheck() async throws {
        let host = FakeHost()
        let waiter = Task {
            try await host.waitFor("sdb", subsystems: ["block"], timeout: .seconds(300), recheck: .seconds(300)) {
                host.file("/sys/block/sdb/size").map { _ in "sdb" }
            }
        }
        // The device appears only once the waiter listens; only the event can wake it in time.
        while host.listenerCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
        host.setFile("/sys/block/sdb/size", "2048")
        host.emit(DeviceEvent(action: "add", subsystem: "block", sysPath: "/sys/block/sdb"))
        let started = ContinuousClock.now
        #expect(try await waiter.value == "sdb")
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func timesOutWithWhatItWaitedFor() async throws {
        let host = FakeHost()
        let error = await #expect(throws: TetherError.self) {
            _ = try await host.waitFor("the device of LUN 3", subsystems: ["block"], timeout: .milliseconds(200), recheck: .milliseconds(50)) { nil as String? }
        }
        #expect(error?.code == .timedOut)
        #expect(error?.message.contains("LUN 3") == true)
    }

    @Test func linuxHostReadsAndWritesKernelStyleAttributes() async throws {
        let scratch = try TemporaryDirectory(prefix: "attr")
        defer { scratch.remove() }
        let attribute = scratch.file("scan")
        FileManager.default.createFile(atPath: attribute, contents: Data())
        let host = LinuxHost()
        try await host.writeAttribute(attribute, "0 0 1")
        #expect(try await host.read(attribute) == "0 0 1")
        #expect(try await host.listDirectory(scratch.path) == ["scan"])
        #expect(try await host.listDirectory(scratch.file("absent")) == [])
        #expect(await host.resolvePath(scratch.file("absent")) == nil)
        let absent = await #expect(throws: TetherError.self) { try await host.writeAttribute(scratch.file("absent"), "1") }
        #expect(absent?.code == .hostCommandFailed)
    }
}
