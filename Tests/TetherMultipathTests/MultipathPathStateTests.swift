import TetherCore
import TetherMultipath
import Testing

@Suite struct MultipathPathStateTests {
    /// `multipathd show paths format "%d %t %T"` of multipath-tools 0.9 (Debian 12), with a header
    /// and a checker state that holds a space.
    static let output = """
        dev dm_st  chk_st     
        sdb active ready      
        sdc failed faulty     
        sdd undef  i/o pending
        """

    @Test func parsesDevicesAndStates() {
        let states = MultipathPathState.parse(Self.output)
        #expect(states.map(\.device) == ["sdb", "sdc", "sdd"])
        #expect(states.map(\.isActive) == [true, false, false])
        #expect(states.last?.checkerState == "i/o pending")
        #expect(MultipathPathState.parse("").isEmpty)
    }

    @Test func aDaemonThatDoesNotAnswerIsAnError() async throws {
        let host = ScriptedHost { _, _ in CommandResult(exitCode: 1, stderr: "error connecting to multipathd socket") }
        let error = await #expect(throws: TetherError.self) {
            try await Multipath(host: host.fake, timeouts: MultipathTests.timeouts).pathStates()
        }
        #expect(error?.code == .multipathFailed)

        let answering = ScriptedHost { _, _ in CommandResult(exitCode: 0, stdout: Self.output) }
        #expect(try await Multipath(host: answering.fake).pathStates().count == 3)
        #expect(answering.ran == [["multipathd", "show", "paths", "format", "%d %t %T"]])
    }
}
