import TetherCore
import Testing

@Suite struct DiskTargetTests {
    @Test(arguments: [(0, "vda"), (1, "vdb"), (25, "vdz"), (26, "vdaa"), (27, "vdab"), (701, "vdzz"), (702, "vdaaa"), (18_277, "vdzzz")])
    func namesFollowLibvirt(index: Int, name: String) {
        #expect(DiskTarget.name(index: index) == name)
        #expect(DiskTarget.index(of: name) == index)
    }

    @Test func everyIndexRoundTrips() {
        for index in 0...DiskTarget.lastIndex {
            #expect(DiskTarget.index(of: DiskTarget.name(index: index, bus: .scsi)) == index)
        }
    }

    @Test(arguments: ["", "vd", "vdA", "vd1", "vdaaaa", "nvme0n1", "vdb'/><x", "../vdb"])
    func rejectsOtherNames(name: String) {
        #expect(!DiskTarget.isValid(name))
    }

    @Test func readsAndRewritesTheTargetLine() {
        let xml = "<disk type='block' device='disk'>\n  <source dev='/dev/sdb'/>\n  <target dev='vdb' bus='virtio'/>\n</disk>\n"
        #expect(DiskTarget.of(xml) == DiskTarget(device: "vdb", bus: .virtio))
        let rewritten = DiskTarget(device: "sdc", bus: .scsi).rewrite(xml)
        #expect(rewritten == "<disk type='block' device='disk'>\n  <source dev='/dev/sdb'/>\n  <target dev='sdc' bus='scsi'/>\n</disk>\n")
        #expect(DiskTarget.of(rewritten) == DiskTarget(device: "sdc", bus: .scsi))
    }
}
