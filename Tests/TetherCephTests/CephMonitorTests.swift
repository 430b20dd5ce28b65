import TetherCeph
import TetherCore
import Testing

@Suite struct CephMonitorTests {
    /// Each `mon_host` entry, and the monitors it becomes, rendered back in Ceph's syntax.
    @Test(arguments: [
        (["[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"], "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"),
        (["v2:10.0.0.1:3300", "v1:10.0.0.1:6789", "10.0.0.2:6789"], "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],v1:10.0.0.2:6789"),
        // One `mon host` line with every separator Ceph accepts.
        (["[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300,v1:10.0.0.2:6789] 10.0.0.3;10.0.0.4:3300"],
         "[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300,v1:10.0.0.2:6789],[v2:10.0.0.3:3300,v1:10.0.0.3:6789],v2:10.0.0.4:3300"),
        // Ceph's rules for an address without v1:/v2: (MonMap::_add_ambiguous_addr).
        (["10.0.0.1"], "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"),
        (["10.0.0.1:7000"], "10.0.0.1:7000"),
        (["v1:10.0.0.1", "v2:10.0.0.2"], "v1:10.0.0.1:6789,v2:10.0.0.2:3300"),
        // `ceph mon dump` prints a nonce.
        (["[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0]"], "[v2:10.0.0.1:3300,v1:10.0.0.1:6789]"),
        (["[v2:[2001:db8::1]:3300,v1:[2001:db8::1]:6789]", "[2001:db8::2]:6789"], "[v2:[2001:db8::1]:3300,v1:[2001:db8::1]:6789],v1:[2001:db8::2]:6789"),
        // Two lab mons on one IP: pairs merge only when adjacent.
        (["v2:127.0.0.1:6800", "v1:127.0.0.1:6801", "v2:127.0.0.1:6900", "v1:127.0.0.1:6901"],
         "[v2:127.0.0.1:6800,v1:127.0.0.1:6801],[v2:127.0.0.1:6900,v1:127.0.0.1:6901]"),
        (["v1:10.0.0.1:6789", "v2:10.0.0.1:3300"], "[v1:10.0.0.1:6789,v2:10.0.0.1:3300]"),
        (["v2:10.0.0.1:3300", "v2:10.0.0.2:3300"], "v2:10.0.0.1:3300,v2:10.0.0.2:3300"),
    ])
    func readsCephSyntax(entries: [String], monHost: String) throws {
        #expect(CephMonitor.monHost(try CephMonitor.parse(entries)) == monHost)
    }

    @Test func knowsWhichAddressIsWhich() throws {
        let monitors = try CephMonitor.parse(["[v2:10.0.0.1:3300,v1:10.0.0.1:6789]", "10.0.0.2:6789", "10.0.0.3:7000"])
        #expect(monitors[0].v2 == Portal(host: "10.0.0.1", port: 3300))
        #expect(monitors[0].v1 == Portal(host: "10.0.0.1", port: 6789))
        #expect(monitors[1].v2 == nil)
        #expect(monitors[1].v1 == Portal(host: "10.0.0.2", port: 6789))
        #expect(monitors[2].addresses == [CephMonitorAddress(.either, Portal(host: "10.0.0.3", port: 7000))])
    }

    @Test(arguments: [
        [String](),
        [""],
        ["v2:"],
        ["10.0.0.1:99999"],
        ["[10.0.0.1:6789]"],
        ["[v2:10.0.0.1:3300,v2:10.0.0.2:3300]"],
        ["[v2:10.0.0.1:3300,v1:10.0.0.1:6789,v1:10.0.0.2:6789]"],
        ["10.0.0.1:6789/x"],
        ["mon$1:6789"],
    ])
    func rejectsWhatCephWouldNotRead(entries: [String]) {
        let error = #expect(throws: TetherError.self) { try CephMonitor.parse(entries) }
        #expect(error?.code == .invalidInput)
    }

    @Test func monitorInitChecksItsAddresses() throws {
        let none = #expect(throws: TetherError.self) { try CephMonitor([]) }
        #expect(none?.code == .invalidInput)
        let mixed = #expect(throws: TetherError.self) {
            try CephMonitor([CephMonitorAddress(.either, Portal(host: "a", port: 1)), CephMonitorAddress(.v1, Portal(host: "a", port: 2))])
        }
        #expect(mixed?.code == .invalidInput)
        #expect(try CephMonitor(v2: Portal(host: "h", port: 3300), v1: Portal(host: "h", port: 6789)).description == "[v2:h:3300,v1:h:6789]")
    }
}
