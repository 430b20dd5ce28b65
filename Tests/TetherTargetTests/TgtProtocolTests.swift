@testable import TetherTarget
import Testing

@Suite struct TgtProtocolTests {
    @Test func requestMatchesTgtadmLayout() {
        let request = TgtRequest(.account, .bind, tid: 7, outgoing: true, parameters: "user=u1")
        let bytes = request.encoded
        func u32(_ offset: Int) -> UInt32 { bytes[offset..<offset + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
        #expect(bytes.count == 120 + 8)
        #expect(u32(0) == 7)  // MODE_ACCOUNT
        #expect(u32(4) == 3)  // OP_BIND
        #expect(Array(bytes[8..<13]) == Array("iscsi".utf8))
        #expect(u32(72) == 128)  // len: header + "user=u1\0"
        #expect(Int32(bitPattern: u32(76)) == 7)
        #expect(u32(108) == 1)  // ac_dir outgoing
        #expect(bytes.last == 0)
    }

    @Test func defaultsAreTgtadmDefaults() {
        let bytes = TgtRequest(.target, .show).encoded
        #expect(bytes.count == 120)
        #expect(bytes[76..<80].allSatisfy { $0 == 0xff })  // tid -1: all targets
        #expect(bytes[88..<96].allSatisfy { $0 == 0xff })  // lun UINT64_MAX
    }

    static let show = """
        Target 1: iqn.2026-11.io.tether:vol1
            System information:
                Driver: iscsi
                State: ready
            I_T nexus information:
                I_T nexus: 2
                    Initiator: iqn.2026-11.io.tether:node1 alias: node1
                    Connection: 0
                        IP Address: 127.0.0.1
            LUN information:
                LUN: 0
                    Type: controller
                    SCSI ID: IET     00010000
                    Backing store path: None
                LUN: 1
                    Type: disk
                    SCSI ID: 0123456789abcdef0123456789abcde
                    SCSI SN: abc
                    Size: 67 MB, Block size: 512
                    Backing store path: /tmp/tg/vol
                    Backing store flags:
            Account information:
                tether-aaaa
                mutual (outgoing)
            ACL information:
                iqn.2026-11.io.tether:node1
        Target 2: iqn.2026-11.io.tether:vol2
            System information:
                Driver: iscsi
                State: ready
            I_T nexus information:
            LUN information:
                LUN: 0
                    Type: controller
            Account information:
            ACL information:
        """

    @Test func parsesTargetListing() {
        let targets = TgtShow.parse(Self.show)
        #expect(targets.map(\.tid) == [1, 2])
        #expect(targets[0].iqn == "iqn.2026-11.io.tether:vol1")
        #expect(targets[0].logicalUnits.map(\.lun) == [0, 1])
        #expect(targets[0].logicalUnits[1].scsiID == "0123456789abcdef0123456789abcde")
        #expect(targets[0].logicalUnits[1].backingPath == "/tmp/tg/vol")
        #expect(targets[0].logicalUnits[0].backingPath == nil)
        #expect(targets[0].accounts == ["tether-aaaa"])
        #expect(targets[0].outgoingAccounts == ["mutual"])
        #expect(targets[0].acl == ["iqn.2026-11.io.tether:node1"])
        #expect(targets[0].connectedInitiators == ["iqn.2026-11.io.tether:node1"])
        #expect(targets[1].acl.isEmpty && targets[1].accounts.isEmpty)
    }

    @Test func statusNames() {
        #expect(TgtStatus.noTarget.description == "can't find the target")
        #expect(TgtStatus(rawValue: 99).description == "tgt error 99")
    }
}
