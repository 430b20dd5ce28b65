import Foundation
import TetherAPI
import TetherCore

extension Doctor {
    /// libvirt: with `[libvirt] uri` set, libvirt answers there (Tether defines the clusters'
    /// secrets through it).
    func libvirt() async -> DoctorFinding {
        let uri = configuration.libvirtURI
        guard !uri.isEmpty else { return DoctorFinding(.libvirt, .skipped, "[libvirt] uri is empty: no libvirt secrets are defined") }
        if let problem = await libvirtProbe(uri) {
            return DoctorFinding(
                .libvirt, .failed, "libvirt does not answer at \(uri): \(problem)",
                hint: "start libvirtd (systemctl enable --now libvirtd), or set [libvirt] uri = \"\" on a node without libvirt")
        }
        return DoctorFinding(.libvirt, .ok, "libvirt answers at \(uri)")
    }

    /// socket: the API socket is a socket of mode 0660 with the group `[api] group` resolved to
    /// (see the Trust model in README).
    func socket() async -> DoctorFinding {
        let path = configuration.socketPath
        let group = "\(access.groupName) (gid \(access.group))"
        guard let status = try? await host.fileStatus(path) else {
            return DoctorFinding(.socket, .failed, "the API socket \(path) is missing", hint: "restart tetherd, which publishes it; nothing else may remove it")
        }
        guard status.kind == .socket else {
            return DoctorFinding(.socket, .failed, "\(path) is a \(status.kind.rawValue), not a socket", hint: "restart tetherd")
        }
        if status.mode != 0o660 || status.group != access.group {
            return DoctorFinding(
                .socket, .failed, "\(path) has mode \(SecretFile.octal(status.mode)) and gid \(status.group); tetherd publishes it 0660 with group \(group)",
                hint: "restart tetherd; do not chmod or chgrp the socket by hand: [api] group in tether.toml says who may use it")
        }
        return DoctorFinding(.socket, .ok, "\(path): mode 0660, group \(group)")
    }
}
