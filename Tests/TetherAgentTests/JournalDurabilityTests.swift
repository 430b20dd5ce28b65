@testable import TetherAgent
import TetherLinux
import TetherFakes
import Testing

@Suite struct JournalDurabilityTests {
    /// An acknowledged step must survive a power cut: the on-disk journal commits with
    /// synchronous=FULL, not GRDB's WAL default of NORMAL.
    @Test func onDiskJournalCommitsWithSynchronousFull() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let journal = try await Journal.open(directory: directory.path, host: LinuxHost())
        #expect(try await journal.synchronousLevel() == 2)
    }
}
