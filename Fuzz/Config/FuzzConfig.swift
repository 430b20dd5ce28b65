import Foundation
import FuzzSupport
import TetherAgent
import TetherCeph
import TetherCore

/// The TOML files a deployment tool writes: tether.toml (with [cinder]) and clusters.d/<name>.toml.
/// Every input goes through the TOML reader and both file readers; a registry file that reads is
/// rendered back (what `tether cluster add` writes) and must read back as the same cluster.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // Files are read as UTF-8 with replacement, as AgentConfiguration.load and the registry do.
    let text = String(decoding: Data(fuzzInput: data, size), as: UTF8.self)
    // A refused file is an answer (an error with file and line), not a finding.
    _ = try? TOML.parse(text, file: "fuzz.toml")
    _ = try? AgentConfiguration.parse(text, file: "tether.toml", environment: [:])

    let path = "/etc/tether/clusters.d/ceph-a.toml"
    guard let cluster = try? CephClusterFile.parse(text, path: path, registryDirectory: "/etc/tether") else { return 0 }
    let rendered = CephClusterFile.render(cluster)
    do {
        let again = try CephClusterFile.parse(rendered, path: path, registryDirectory: "/etc/tether")
        fuzzCheck(again == cluster, "a rendered registry file reads back as another cluster:\n\(rendered)")
    } catch {
        fuzzCheck(false, "a registry file Tether rendered is refused: \(error)\n\(rendered)")
    }
    return 0
}

@main struct Main {
    static func main() { FuzzMain.run(fuzzConfig) }
}
