@testable import TetherAgent
import TetherCore
import TetherFakes
import Testing

/// `[local_attach] mode` and what `auto` reads of the kernel, through a FakeHost.
struct LocalAttachModeTests {
    static let release = "6.1.0-28-amd64"

    @Test(arguments: ["iscsi", "rbd", "RBD"])
    func aLoadedOrBuiltInDriverCounts(protocolName: String) async {
        let host = FakeHost()
        host.makeDirectory("/sys/module/\(KernelSupport.module(forProtocol: protocolName) ?? "")")
        #expect(await KernelSupport(host: host, root: "/").supports(protocolName: protocolName))
    }

    @Test(arguments: ["kernel/drivers/block/rbd.ko: kernel/net/ceph/libceph.ko", "kernel/drivers/block/rbd.ko.xz:", "kernel/drivers/block/rbd.ko.zst: x"])
    func aLoadableModuleCounts(line: String) async {
        let host = FakeHost()
        host.setFile("/root/proc/sys/kernel/osrelease", Self.release + "\n")
        host.setFile("/root/lib/modules/\(Self.release)/modules.dep", "kernel/net/ceph/libceph.ko:\n\(line)\n")
        #expect(await KernelSupport(host: host, root: "/root").supports(protocolName: "rbd"))
        #expect(await !KernelSupport(host: host, root: "/root").supports(protocolName: "iscsi"))
    }

    /// This lab's kind of kernel: nothing loaded, no modules at all (no modules.dep).
    @Test func noModulesMeansNoKernelMode() async {
        let host = FakeHost()
        host.setFile("/proc/sys/kernel/osrelease", Self.release)
        let support = KernelSupport(host: host, root: "/")
        #expect(await !support.supports(protocolName: "rbd"))
        #expect(await !support.supports(protocolName: "iscsi"))
        // A protocol without a kernel connector never has kernel mode.
        #expect(await !support.supports(protocolName: "nvmeof"))
    }

    /// A module whose name merely starts like the one needed does not count.
    @Test func anotherModuleWithTheSamePrefixDoesNotCount() async {
        let host = FakeHost()
        host.setFile("/proc/sys/kernel/osrelease", Self.release)
        host.setFile("/lib/modules/\(Self.release)/modules.dep", "kernel/drivers/block/rbd_extra.ko:\nkernel/drivers/scsi/iscsi_tcp_x.ko:\n")
        #expect(await !KernelSupport(host: host, root: "/").supports(protocolName: "rbd"))
        #expect(await !KernelSupport(host: host, root: "/").supports(protocolName: "iscsi"))
    }

    @Test(arguments: [("kernel", LocalAttachModeRule.kernel), ("network", .network), ("auto", .auto)])
    func theRuleIsRead(text: String, rule: LocalAttachModeRule) throws {
        let configuration = try AgentConfiguration.parse("[local_attach]\nmode = \"\(text)\"\n", file: "t.toml")
        #expect(configuration.localAttachMode == rule)
    }

    @Test func autoIsTheDefault() throws {
        #expect(try AgentConfiguration.parse("", file: "t.toml").localAttachMode == .auto)
    }

    @Test func anUnknownRuleIsRefused() {
        #expect(throws: ConfigurationError.self) {
            try AgentConfiguration.parse("[local_attach]\nmode = \"user\"\n", file: "t.toml")
        }
    }
}
