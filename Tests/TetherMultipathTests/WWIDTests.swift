import TetherMultipath
import Testing

@Suite struct WWIDTests {
    @Test(arguments: [
        ("naa.6001405f2a1b3c4d5e6f708192a3b4c5", "36001405f2a1b3c4d5e6f708192a3b4c5"),
        ("eui.0102030405060708", "20102030405060708"),
        ("t10.LIO-ORG  disk   0001", "1LIO-ORG_disk_0001"),
        ("iqn.2003-01.org.linux-iscsi:t1,t,0x1,L,0x1", "8iqn.2003-01.org.linux-iscsi:t1,t,0x1,L,0x1"),
    ])
    func udevSpelling(sysfs: String, udev: String) {
        let wwid = WWID(sysfs: sysfs + "\n")
        #expect(wwid.udev == udev)
        #expect(wwid.multipathUUID == "mpath-" + udev)
        #expect(wwid.matches(udev))
        #expect(wwid.matches(sysfs))
    }

    @Test func readsUdevSpellingBack() {
        #expect(WWID(udev: "36001405abc")?.sysfs == "naa.6001405abc")
        #expect(WWID(udev: "2aabb")?.sysfs == "eui.aabb")
        #expect(WWID(udev: "1LIO-ORG_disk")?.sysfs == "t10.LIO-ORG disk")
        #expect(WWID(udev: "9zz") == nil)
        #expect(WWID(sysfs: "naa.6001405abc").wwnLinkName == "wwn-0x6001405abc")
        #expect(WWID(sysfs: "eui.01").wwnLinkName == nil)
    }
}
