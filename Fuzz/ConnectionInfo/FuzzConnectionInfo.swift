import Foundation
import FuzzSupport
import TetherCeph
import TetherCore

/// connection_info as the agent and the CLI read it: JSON in any of the three shapes (nested,
/// flat, wrapped), then the iSCSI or RBD data, then the Ceph cluster it resolves to.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnectionInfo(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(fuzzInput: data, size)
    // Malformed JSON is an answer (400), not a finding.
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: bytes) else { return 0 }
    guard let info = try? ConnectionInfo(json: value) else { return 0 }

    // What the agent writes back is read back the same (journal, listings, the CLI's --output).
    let nested = info.json(shape: .nested)
    if let again = try? ConnectionInfo(json: nested) {
        fuzzCheck(
            again.driverVolumeType == info.driverVolumeType && again.data == info.data && again.extra == info.extra,
            "the nested shape does not read back as it was written")
    } else {
        fuzzCheck(false, "the nested shape written by Tether is refused")
    }
    _ = info.json(shape: .flat)
    let redacted = info.redacted()
    for key in redacted.data.keys where ConnectionInfo.isSecretKey(key) {
        // A null holds nothing to hide and stays null (Redaction keeps it: "no keyring" is a fact).
        fuzzCheck(redacted.data[key] == "<redacted>" || info.data[key]?.isNull == true, "redacted() kept \(key)")
    }
    do {
        _ = try JSONEncoder().encode(redacted)
    } catch {
        fuzzCheck(false, "a redacted connection_info cannot be encoded: \(error)")
    }

    if let iscsi = try? ISCSIConnectionData(info) {
        for path in iscsi.paths {
            fuzzCheck(path.lun >= 0, "negative LUN \(path.lun)")
            _ = path.portal.description
        }
    }
    if let rbd = try? RBDConnectionData(info) {
        for monitor in rbd.monitors {
            fuzzCheck((1...65535).contains(monitor.port), "monitor port \(monitor.port)")
        }
        _ = try? CephResolver.resolve(rbd, in: Registry.fixture)
    }
    return 0
}

/// Two registered clusters, so resolution by name, secret UUID, monitors and keyring is reached.
enum Registry {
    static let fixture: CephRegistry = {
        let a = """
            fsid = "0b6a3c2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"
            mon_host = ["[v2:127.0.0.1:3300,v1:127.0.0.1:6789]", "127.0.0.2:6789"]
            [user.cinder]
            secret_uuid = "457eb676-33da-42ec-9a8c-9293d545c337"
            """
        let b = """
            fsid = "7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
            mon_host = "v1:127.0.0.3:6789"
            default_user = "cinder"
            [user.cinder]
            [user.nova]
            """
        do {
            let clusters = [
                try CephClusterFile.parse(a, path: "/etc/tether/clusters.d/ceph-a.toml", registryDirectory: "/etc/tether"),
                try CephClusterFile.parse(b, path: "/etc/tether/clusters.d/ceph.toml", registryDirectory: "/etc/tether"),
            ]
            return try CephRegistry(clusters: clusters)
        } catch {
            fatalError("the fuzz registry fixture does not parse: \(error)")
        }
    }()
}

@main struct Main {
    static func main() { FuzzMain.run(fuzzConnectionInfo) }
}
