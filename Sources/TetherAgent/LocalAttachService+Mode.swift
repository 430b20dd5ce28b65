import Foundation
import TetherAPI
import TetherCore

/// `[local_attach] mode`: how `local-attach` attaches when the request names no mode.
public enum LocalAttachModeRule: String, Sendable, CaseIterable {
    /// Always a host block device.
    case kernel
    /// Always network mode (QEMU connects to the storage itself).
    case network
    /// Kernel mode where this host's kernel has the protocol's driver, else network mode.
    case auto
}

/// Whether this host's kernel has the driver a protocol needs in kernel mode: built in or loaded
/// (`/sys/module/NAME`), or loadable (named in `/lib/modules/RELEASE/modules.dep`). Read through
/// the Host seam, under the configured system root.
struct KernelSupport: Sendable {
    let host: any TetherCore.Host
    let root: String

    /// The kernel module a protocol's kernel connector needs; nil: no kernel mode for it.
    static func module(forProtocol name: String) -> String? {
        switch name.lowercased() {
        case "iscsi": "iscsi_tcp"
        case "rbd": "rbd"
        default: nil
        }
    }

    func supports(protocolName: String) async -> Bool {
        guard let module = Self.module(forProtocol: protocolName) else { return false }
        return await availability(of: module) != .missing
    }

    /// Whether a kernel module is there: `module` as /sys/module names it (underscores;
    /// modules.dep may write the file with dashes, dm-multipath.ko).
    enum Availability: Sendable, Hashable {
        /// Built in or loaded: /sys/module/NAME exists.
        case loaded
        /// Named in modules.dep: modprobe (or the daemon that needs it) can load it.
        case loadable
        case missing
    }

    func availability(of module: String) async -> Availability {
        let base = root == "/" ? "" : root
        if await host.fileExists("\(base)/sys/module/\(module)") { return .loaded }
        // No osrelease or no modules.dep: nothing can be loaded.
        guard let release = try? await host.read("\(base)/proc/sys/kernel/osrelease").trimmingCharacters(in: .whitespacesAndNewlines),
            !release.isEmpty, !release.contains("/"),
            let dependencies = try? await host.read("\(base)/lib/modules/\(release)/modules.dep")
        else { return .missing }
        // Lines such as "kernel/drivers/block/rbd.ko.xz: kernel/net/ceph/libceph.ko.xz".
        let found = dependencies.split(separator: "\n").contains { line in
            let path = line.split(separator: ":", maxSplits: 1).first ?? ""
            let file = (path.split(separator: "/").last ?? "").replacingOccurrences(of: "-", with: "_")
            return file == "\(module).ko" || file.hasPrefix("\(module).ko.")
        }
        return found ? .loadable : .missing
    }
}

extension LocalAttachService {
    /// The mode of an attach whose request named none, once Cinder's connection_info says the
    /// protocol.
    func defaultMode(for info: ConnectionInfo) async -> AttachMode {
        switch modeRule {
        case .kernel: .kernel
        case .network: .network
        case .auto: await kernelSupport?.supports(protocolName: info.driverVolumeType) == true ? .kernel : .network
        }
    }
}
