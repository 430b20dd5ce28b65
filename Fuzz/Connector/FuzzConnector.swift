import Foundation
import FuzzSupport
import TetherCore

/// os-brick connector properties as `POST /v1/exports` and `tether export create --connector` read
/// them (bare or wrapped in {"connector": ...}), and as the agent writes them back.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnector(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(fuzzInput: data, size)
    guard let value = try? JSONDecoder().decode(JSONValue.self, from: bytes) else { return 0 }  // malformed JSON: a 400
    guard let connector = try? ConnectorProperties(json: value) else { return 0 }  // refused: a 400
    do {
        let written = try JSONEncoder().encode(connector)
        let again = try JSONDecoder().decode(ConnectorProperties.self, from: written)
        // JSON does not keep Int and Double apart (7e16 is written as an integer and read back
        // as one), so unmodelled keys are compared by name; modelled ones exactly.
        fuzzCheck(
            again.initiator == connector.initiator && again.host == connector.host && again.ip == connector.ip
                && again.multipath == connector.multipath && again.enforceMultipath == connector.enforceMultipath
                && again.platform == connector.platform && again.osType == connector.osType
                && again.doLocalAttach == connector.doLocalAttach && Set(again.extra.keys) == Set(connector.extra.keys),
            "connector properties do not read back as written")
    } catch {
        fuzzCheck(false, "connector properties written by Tether are refused: \(error)")
    }
    if let ip = connector.ip {
        _ = try? Portal(parsing: ip)  // only whether it traps matters here
    }
    return 0
}

@main struct Main {
    static func main() { FuzzMain.run(fuzzConnector) }
}
