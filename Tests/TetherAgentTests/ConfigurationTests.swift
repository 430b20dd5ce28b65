@testable import TetherAgent
import TetherCore
import Testing

@Suite struct ConfigurationTests {
    @Test func readsEveryKey() throws {
        let configuration = try AgentConfiguration.parse(
            """
            # tetherd
            socket = "/tmp/t.sock"
            state_dir = '/tmp/state'
            log_level = "debug"

            [node]
            host = "compute-1"

            [iscsi]
            initiator = "iqn.2026-11.io.tether:node1"   # this node
            connect_timeout = 2
            login_timeout = 1.5

            [target]
            portals = ["127.0.0.1:3260", "127.0.0.2:3260"]
            tgt_socket = "/tmp/tgtd.sock"
            tgt_control_port = 7
            """, file: "t.toml")
        #expect(configuration.socketPath == "/tmp/t.sock")
        #expect(configuration.stateDirectory == "/tmp/state")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.initiator == "iqn.2026-11.io.tether:node1")
        #expect(configuration.iscsiTimeouts.connect == .seconds(2))
        #expect(configuration.iscsiTimeouts.login == .milliseconds(1500))
        #expect(configuration.target.portals.count == 2)
        #expect(configuration.target.tgtControlPort == 7)
    }

    @Test(arguments: [
        ("socket = 3", "socket must be a string"),
        ("[iscsi]\nconect_timeout = 3", "unknown key [iscsi] conect_timeout"),
        ("[nope]", "unknown table [nope]"),
        ("socket = \"/a\nb\"", "t.toml:1"),
        ("socket = /tmp/x", "t.toml:1"),
        ("[target]\nportals = [\"a:0\"]", "portals"),
        ("a = 1\na = 2", "t.toml:2"),
        ("[iscsi]\nconnect_timeout = -1", "positive number"),
        // Used to reach Int(number * 1000) and trap; a day at most keeps milliseconds in every C type.
        ("[iscsi]\nlogin_timeout = 1e300", "at most 86400"),
        ("[iscsi]\ncommand_timeout = 9223372036854775807", "at most 86400"),
        ("[target]\nbacking_dirs = [\"relative/dir\"]", "not an absolute path"),
        ("[iscsi]\ninitiator = \"iqn.test:a\"", "[iscsi] initiator"),
        ("[target]\niqn_prefix = \"tether targets\"", "[target] iqn_prefix"),
    ])
    func badFilesNameFileLineAndKey(text: String, mentions: String) {
        let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse(text, file: "t.toml") }
        #expect(error?.description.contains(mentions) == true, "\(error?.description ?? "")")
    }

    @Test func initiatorNameFile() {
        #expect(NodeIdentity.parseInitiatorName("## generated\nInitiatorName=iqn.1993-08.org.debian:01:abc\n") == "iqn.1993-08.org.debian:01:abc")
        #expect(NodeIdentity.parseInitiatorName("#InitiatorName=iqn.x:y\n") == nil)
    }
}

@Suite struct VolumeLocksTests {
    @Test func sameVolumeRunsOneAtATimeInOrder() async throws {
        let locks = VolumeLocks()
        let log = Log()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<5 {
                group.addTask {
                    try await locks.withLock("v") {
                        await log.append("start \(index)")
                        try await Task.sleep(for: .milliseconds(10))
                        await log.append("end \(index)")
                    }
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            try await group.waitForAll()
        }
        let entries = await log.entries
        for pair in stride(from: 0, to: entries.count, by: 2) {
            #expect(entries[pair].hasPrefix("start") && entries[pair + 1].hasPrefix("end"))
            #expect(entries[pair].dropFirst(6) == entries[pair + 1].dropFirst(4))
        }
    }

    @Test func aFailingHolderReleasesTheLock() async throws {
        let locks = VolumeLocks()
        let error = await #expect(throws: TetherError.self) { try await locks.withLock("v") { throw TetherError(.internalError, "boom") } }
        #expect(error?.code == .internalError && error?.message == "boom")
        let value = try await locks.withLock("v") { 1 }
        #expect(value == 1)
    }

    actor Log {
        var entries: [String] = []
        func append(_ entry: String) { entries.append(entry) }
    }
}
