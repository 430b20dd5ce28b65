import Foundation
import TetherTesting
import Testing

/// `tether local-attach` given what scripts written for `cinder local-attach`
/// (python-brick-cinderclient-ext) pass: refused as a usage error (exit 64) before anything is
/// sent, naming Tether's equivalent; Tether's own spelling gets past the check (to the missing
/// agent: exit 7).
@Suite(.tags(.integration))
struct BrickCompatibilityTests {
    static func tether(_ arguments: [String]) throws -> (status: Int32, output: String) {
        // No agent: a command line that passes the check fails to connect, with exit 7.
        try Lab.run(CLIFlowTests.binary, arguments, environment: ["TETHER_SOCKET": "/nonexistent/tetherd.sock"])
    }

    @Test(arguments: [
        (["--multipath", "True"], "--no-multipath"),
        (["--enforce_multipath", "True"], "--multipath"),
        (["--enforce-multipath", "False"], "--multipath"),
        (["--mountpoint", "/mnt/x"], "/dev/disk/by-tether"),
        (["--mode", "ro"], "--read-only"),
        (["--mode", "rw"], "kernel or network"),
        (["--hostname", "compute-9"], "[node] host"),
        (["--nic", "eth1"], "[node] ip"),
    ])
    func brickOptionsAreRefusedWithTheEquivalent(options: [String], equivalent: String) throws {
        let result = try Self.tether(["local-attach", "vol-1"] + options)
        #expect(result.status == 64, "\(result.output)")
        #expect(result.output.contains(equivalent), "\(result.output)")
    }

    @Test(arguments: [["--multipath"], ["--no-multipath"], ["--mode", "kernel"], ["--mode", "network"], ["--read-only"]])
    func tethersOwnOptionsPass(options: [String]) throws {
        let result = try Self.tether(["local-attach", "vol-1"] + options)
        #expect(result.status == 7, "\(result.output)")
    }
}
