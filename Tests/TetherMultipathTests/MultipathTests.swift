import Foundation
import TetherCore
import TetherMultipath
import TetherFakes
import Testing

/// A FakeHost (`fake`, the host under test) whose commands `answer` per argument list.
final class ScriptedHost: @unchecked Sendable {
    let fake = FakeHost()

    init(_ answer: @escaping @Sendable (ScriptedHost, [String]) -> CommandResult) {
        // Strong on purpose: the script lives as long as its host, which a test may hold alone.
        fake.onRun { command in answer(self, [command.executable] + command.arguments) }
    }

    var ran: [[String]] { fake.ranCommands.map { [$0.executable] + $0.arguments } }

    /// A map /sys/block/`kernelName` as the kernel shows one made by multipathd.
    func makeMap(_ kernelName: String, name: String, wwid: String, slaves: [String], sectors: Int = 2048) {
        fake.setFile("/sys/block/\(kernelName)/dm/uuid", "mpath-\(wwid)\n")
        fake.setFile("/sys/block/\(kernelName)/dm/name", name + "\n")
        fake.setFile("/sys/block/\(kernelName)/size", "\(sectors)\n")
        fake.setFile("/sys/block/\(kernelName)/ro", "0\n")
        for slave in slaves { fake.makeDirectory("/sys/block/\(kernelName)/slaves/\(slave)") }
    }
}

@Suite struct MultipathTests {
    static let timeouts = Multipath.Timeouts(command: .seconds(5), mapAssembly: .milliseconds(500), flush: .seconds(5), flushAttempts: 2, retryDelay: .milliseconds(5))
    static let wwid = WWID(sysfs: "naa.6001405aabbccdd")

    static func device(_ name: String, wwid: String? = "naa.6001405aabbccdd", size: UInt64 = 1 << 20) -> PathDevice {
        PathDevice(name: name, scsiDirectory: "/sys/devices/x/\(name)", wwid: wwid.map(WWID.init(sysfs:)), sizeBytes: size, readOnly: false)
    }

    @Test func findsMapsBySlavesNotByName() async throws {
        let host = ScriptedHost { _, _ in CommandResult(exitCode: 0) }
        host.makeMap("dm-0", name: "mpatha", wwid: "36001405aabbccdd", slaves: ["sdb", "sdc"])
        host.fake.setFile("/sys/block/dm-1/dm/uuid", "LVM-abcdef\n")  // not multipath
        host.fake.setFile("/sys/block/sdb/size", "2048\n")
        let multipath = Multipath(host: host.fake, timeouts: Self.timeouts)
        let maps = try await multipath.maps()
        #expect(maps.map(\.kernelName) == ["dm-0"])
        let map = try #require(try await multipath.map(holding: ["sdc"]))
        #expect(map.name == "mpatha")
        #expect(map.wwid == Self.wwid)
        #expect(map.sizeBytes == 2048 * 512)
        #expect(try await multipath.map(for: Self.wwid)?.kernelName == "dm-0")
        #expect(try await multipath.map(holding: ["sdd"]) == nil)
    }

    @Test func assembleHandsMultipathdTheWWIDAndPathsAndWaitsForTheMap() async throws {
        let host = ScriptedHost { host, line in
            if line == ["multipathd", "add", "path", "/dev/sdc"] {
                host.makeMap("dm-2", name: "36001405aabbccdd", wwid: "36001405aabbccdd", slaves: ["sdb", "sdc"])
            }
            return CommandResult(exitCode: 0, stdout: "ok\n")
        }
        let map = try await Multipath(host: host.fake, timeouts: Self.timeouts).assemble([Self.device("sdb"), Self.device("sdc")], wwid: Self.wwid)
        #expect(map.kernelName == "dm-2")
        #expect(host.ran.first == ["multipath", "-a", "36001405aabbccdd"])
        #expect(host.ran.contains(["multipathd", "add", "path", "/dev/sdb"]))
    }

    @Test func assembleRunsOnlyWhatCanChangeTheOutcome() async throws {
        // The wwids file lists the WWID (no `multipath -a`), and multipathd's own map holds sdb
        // already (no `add path` for it).
        let host = ScriptedHost { host, line in
            if line == ["multipathd", "add", "path", "/dev/sdc"] {
                host.fake.makeDirectory("/sys/block/dm-0/slaves/sdc")
            }
            return CommandResult(exitCode: 0, stdout: "ok\n")
        }
        host.fake.setFile("/etc/multipath/wwids", "# Multipath wwids, Version : 1.0\n/36001405aabbccdd/\n")
        host.makeMap("dm-0", name: "mpatha", wwid: "36001405aabbccdd", slaves: ["sdb"])
        let multipath = Multipath(host: host.fake, timeouts: Self.timeouts)
        let map = try await multipath.assemble([Self.device("sdb"), Self.device("sdc")], wwid: Self.wwid)
        #expect(map.slaves.sorted() == ["sdb", "sdc"])
        #expect(host.ran == [["multipathd", "add", "path", "/dev/sdc"]])

        // A map that holds every path is the answer itself.
        let again = try await multipath.assemble([Self.device("sdb"), Self.device("sdc")], wwid: Self.wwid)
        #expect(again.kernelName == "dm-0")
        #expect(host.ran.count == 1)
    }

    @Test func assembleWithoutAMapFails() async throws {
        let host = ScriptedHost { _, _ in CommandResult(exitCode: 0, stdout: "fail\n") }
        let error = await #expect(throws: TetherError.self) {
            try await Multipath(host: host.fake, timeouts: Self.timeouts).assemble([Self.device("sdb")], wwid: Self.wwid)
        }
        #expect(error?.code == .multipathFailed)
    }

    @Test func aMapHoldingSomePathsIsTakenWhenTimeIsUp() async throws {
        let host = ScriptedHost { host, line in
            if line.first == "multipathd" { host.makeMap("dm-0", name: "m", wwid: "36001405aabbccdd", slaves: ["sdb"]) }
            return CommandResult(exitCode: 0, stdout: "ok\n")
        }
        let map = try await Multipath(host: host.fake, timeouts: Self.timeouts).assemble([Self.device("sdb"), Self.device("sdc")], wwid: Self.wwid)
        #expect(map.slaves == ["sdb"])
    }

    @Test func removeRetriesThenForcesWithDmsetup() async throws {
        let host = ScriptedHost { host, line in
            switch line.first {
            case "multipath"?: return CommandResult(exitCode: 1, stderr: "map in use")
            case "dmsetup"?:
                host.fake.removeTree("/sys/block/dm-0")
                return CommandResult(exitCode: 0)
            default: return CommandResult(exitCode: 0, stdout: "fail\n")
            }
        }
        host.makeMap("dm-0", name: "mpatha", wwid: "36001405aabbccdd", slaves: ["sdb"])
        let multipath = Multipath(host: host.fake, timeouts: Self.timeouts)
        let map = try #require(try await multipath.map(kernelName: "dm-0"))

        let error = await #expect(throws: TetherError.self) { try await multipath.remove(map, force: false) }
        #expect(error?.code == .multipathFailed)
        #expect(host.ran.filter { $0 == ["multipath", "-f", "mpatha"] }.count == 2)
        #expect(!host.ran.contains { $0.first == "dmsetup" })

        try await multipath.remove(map, force: true)
        #expect(host.ran.contains(["multipathd", "del", "map", "mpatha"]))
        #expect(host.ran.contains(["dmsetup", "remove", "--force", "--retry", "mpatha"]))
        #expect(try await multipath.maps().isEmpty)
    }

    @Test func removingAMapAlreadyGoneIsFine() async throws {
        let host = ScriptedHost { _, _ in CommandResult(exitCode: 1, stderr: "no such map") }
        let map = MultipathMap(kernelName: "dm-9", name: "gone", uuid: "mpath-3aa", slaves: [], sizeBytes: 0, readOnly: false)
        try await Multipath(host: host.fake, timeouts: Self.timeouts).remove(map, force: false)
    }

    @Test func resizeRetriesWhileMultipathdReconfigures() async throws {
        let answers = Answers(["timeout\n", "ok\n"])
        let host = ScriptedHost { host, _ in
            let next = answers.next()
            if next == "ok\n" { host.fake.setFile("/sys/block/dm-0/size", "4096\n") }
            return CommandResult(exitCode: 0, stdout: next)
        }
        host.makeMap("dm-0", name: "mpatha", wwid: "36001405aabbccdd", slaves: ["sdb"])
        let multipath = Multipath(host: host.fake, timeouts: Self.timeouts)
        let map = try #require(try await multipath.map(kernelName: "dm-0"))
        #expect(try await multipath.resize(map) == 4096 * 512)
        #expect(host.ran.count == 2)
    }

    @Test func daemonStatus() async {
        let down = ScriptedHost { _, _ in CommandResult(exitCode: 0, stdout: "error receiving packet\n") }
        #expect(await Multipath(host: down.fake).isRunning() == false)
        let up = ScriptedHost { _, _ in CommandResult(exitCode: 0, stdout: "path checkers states:\n") }
        #expect(await Multipath(host: up.fake).isRunning())
    }

    @Test func daemonStatusFromItsSocket() async {
        // /proc/net/unix answers without a process: multipathd's abstract socket listed or not.
        let header = "Num       RefCount Protocol Flags    Type St Inode Path\n"
        let up = ScriptedHost { _, _ in CommandResult(exitCode: 1, stdout: "error receiving packet\n") }
        up.fake.setFile("/proc/net/unix", header + "0000000000000000: 00000002 00000000 00010000 0001 01 21474 @/org/kernel/linux/storage/multipathd\n")
        #expect(await Multipath(host: up.fake).isRunning())
        let down = ScriptedHost { _, _ in CommandResult(exitCode: 0, stdout: "path checkers states:\n") }
        down.fake.setFile("/proc/net/unix", header + "0000000000000000: 00000002 00000000 00010000 0001 01 21475 /run/udev/control\n")
        #expect(await Multipath(host: down.fake).isRunning() == false)
        #expect(up.ran.isEmpty && down.ran.isEmpty)
    }
}

@Suite struct PathAgreementTests {
    @Test func agreeingPathsGiveTheirWWIDAndSize() throws {
        let agreed = try PathAgreement.agree([MultipathTests.device("sdb"), MultipathTests.device("sdc")])
        #expect(agreed.wwid == MultipathTests.wwid)
        #expect(agreed.sizeBytes == 1 << 20)
    }

    @Test func wwidOrSizeMismatchIsRefused() {
        let wwid = #expect(throws: TetherError.self) {
            try PathAgreement.agree([MultipathTests.device("sdb"), MultipathTests.device("sdc", wwid: "naa.6001405ffff")])
        }
        #expect(wwid?.code == .iscsiWWIDMismatch)
        #expect(wwid?.message.contains("naa.6001405ffff") == true)
        let missing = #expect(throws: TetherError.self) {
            try PathAgreement.agree([MultipathTests.device("sdb"), MultipathTests.device("sdc", wwid: nil)])
        }
        #expect(missing?.code == .iscsiWWIDMismatch)
        let size = #expect(throws: TetherError.self) {
            try PathAgreement.agree([MultipathTests.device("sdb"), MultipathTests.device("sdc", size: 2 << 20)])
        }
        #expect(size?.code == .iscsiWWIDMismatch)
    }
}

/// Answers handed out in order, the last one repeated.
final class Answers: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String]

    init(_ items: [String]) { self.items = items }

    func next() -> String {
        lock.withLock { items.count > 1 ? items.removeFirst() : items[0] }
    }
}
