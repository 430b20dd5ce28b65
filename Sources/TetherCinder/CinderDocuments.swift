import Foundation
import TetherCore

/// Parsers for what Cinder and Keystone answer: pure functions over JSON.
public enum CinderDocuments {
    /// The range of microversions from Cinder's version document (`GET /`, or `GET /v3/`).
    public static func versions(_ body: JSONValue) -> (min: Microversion, max: Microversion)? {
        let versions = body["versions"]?.arrayValue ?? body["version"].map { [$0] } ?? []
        for version in versions {
            let id = version["id"]?.stringValue ?? ""
            guard id.hasPrefix("v3"), let max = version["version"]?.stringValue.flatMap(Microversion.init) else { continue }
            let min = version["min_version"]?.stringValue.flatMap(Microversion.init) ?? .legacy
            return (min, max)
        }
        return nil
    }

    /// The block-storage v3 endpoint in a Keystone token's catalog.
    public static func endpoint(catalog body: JSONValue, interface: String, region: String?) -> String? {
        let services = body["token"]?["catalog"]?.arrayValue ?? []
        for type in ["block-storage", "volumev3"] {
            guard let service = services.first(where: { $0["type"]?.stringValue == type }) else { continue }
            let endpoints = service["endpoints"]?.arrayValue ?? []
            let match = endpoints.first { endpoint in
                endpoint["interface"]?.stringValue == interface
                    && (region == nil || endpoint["region_id"]?.stringValue == region || endpoint["region"]?.stringValue == region)
            }
            if let url = match?["url"]?.stringValue { return url }
        }
        return nil
    }

    /// An attachment's `attach_mode`; Cinder Zed may say the string "null" for none.
    public static func attachMode(_ attachment: JSONValue) -> String? {
        guard let mode = attachment["attach_mode"]?.stringValue, mode != "null", !mode.isEmpty else { return nil }
        return mode
    }

    /// Cinder's error body `{"<kind>": {"code": N, "message": "..."}}` as Tether's error.
    public static func error(status: Int, body: Data, what: String) -> TetherError {
        let message = (try? JSONDecoder().decode(JSONValue.self, from: body))?.objectValue?.values.first?["message"]?.stringValue
            ?? String(decoding: body.prefix(300), as: UTF8.self)
        let text = "Cinder refused to \(what) (HTTP \(status)): \(message)"
        switch status {
        case 400: return TetherError(.invalidInput, text)
        case 401: return TetherError(.cinderDenied, text, hint: "check the credentials in tether.toml [cinder] or OS_* variables")
        case 403: return TetherError(.cinderDenied, text, hint: "the user needs the volume admin or member role")
        case 404: return TetherError(.notFound, text, hint: "check the volume id (cinder list)")
        case 406: return TetherError(.unsupported, text, hint: "the server does not offer that microversion")
        case 409: return TetherError(.conflict, text, hint: "the volume is in a state that does not allow it (cinder show)")
        default: return TetherError(.cinderFailed, text)
        }
    }
}

extension TetherError.Code {
    public static let cinderDenied = Self(rawValue: "cinder.denied")
    public static let cinderFailed = Self(rawValue: "cinder.failed")
    public static let cinderUnreachable = Self(rawValue: "cinder.unreachable")
}
