import Foundation
import TetherAPI
import TetherCore

/// One call of tetherd's API: the request, and the type its 2xx answer decodes to.
public struct AgentEndpoint<Response: Decodable>: Sendable, CustomStringConvertible {
    public var method: String
    /// Path and query, percent-encoded.
    public var target: String
    public var body: Data?
    /// What tetherd does meanwhile, for the progress line and a timeout's hint.
    public var wait: AgentWait

    public init(method: String, target: String, body: Data? = nil, wait: AgentWait? = nil) {
        self.method = method
        self.target = target
        self.body = body
        self.wait = wait ?? AgentWait("waiting for tetherd (\(method) \(target.prefix { $0 != "?" }))", check: "tether list")
    }

    public init(method: String, target: String, json body: some Encodable, wait: AgentWait? = nil) throws {
        self.init(method: method, target: target, body: try JSONEncoder().encode(body), wait: wait)
    }

    /// This endpoint, its wait described as `activity`, checked with `check`.
    func waiting(_ activity: String, check: String) -> Self {
        var copy = self
        copy.wait = AgentWait(activity, check: check)
        return copy
    }

    public var request: HTTPRequest { HTTPRequest(method: method, target: target, body: body) }

    /// `GET /v1/health`, for messages.
    public var description: String { "\(method) \(target.prefix { $0 != "?" })" }
}

extension AgentEndpoint where Response == HealthBody {
    public static var health: Self { Self(method: "GET", target: "/v1/health").waiting("asking tetherd for its health", check: "tether health") }
}

extension AgentEndpoint where Response == ConnectorProperties {
    public static var connector: Self {
        Self(method: "GET", target: "/v1/connector").waiting("reading this node's connector properties", check: "tether connector")
    }
}

extension AgentEndpoint where Response == AttachmentBody {
    /// Answers 201 when it attached, 200 when the volume was already attached.
    public static func attach(_ request: CreateAttachmentRequest) throws -> Self {
        let volume = request.volumeID ?? request.connectionInfo.volumeID ?? "the volume"
        let kernel = request.mode == .kernel
        let steps =
            switch request.connectionInfo.driverVolumeType.lowercased() {
            case "rbd": kernel ? "map, udev" : "Ceph connect, image check"
            default: kernel ? "login, scan, udev, multipath" : "login, LUN check"
            }
        return try Self(method: "POST", target: "/v1/attachments", json: request)
            .waiting("attaching \(volume) (\(steps))", check: "tether show \(volume)")
    }

    /// Rescans the attachment's device(s) and answers it with its new size.
    public static func extend(_ ref: String) -> Self {
        Self(method: "POST", target: "/v1/attachments/\(percentEncoded(ref))/extend")
            .waiting("extending \(ref) (rescan, resize)", check: "tether show \(ref)")
    }

    /// `ref` is an attachment id or a volume id.
    public static func attachment(_ ref: String) -> Self {
        Self(method: "GET", target: "/v1/attachments/\(percentEncoded(ref))").waiting("reading attachment \(ref)", check: "tether show \(ref)")
    }
}

extension AgentEndpoint where Response == AttachmentList {
    public static var attachments: Self { Self(method: "GET", target: "/v1/attachments").waiting("listing attachments", check: "tether list") }
}

extension AgentEndpoint where Response == DetachResponse {
    /// `ref` is an attachment id or a volume id. Detaching what is not attached answers an empty list.
    public static func detach(_ ref: String, force: Bool) -> Self {
        Self(method: "DELETE", target: "/v1/attachments/\(percentEncoded(ref))?force=\(force)")
            .waiting("detaching \(ref) (flush, logout)", check: "tether show \(ref)")
    }
}

extension AgentEndpoint where Response == ExportResponse {
    /// Answers 201 when it exported, 200 when the export already existed.
    public static func createExport(_ request: CreateExportRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/exports", json: request)
            .waiting("exporting \(request.volume.id) (\(request.volume.rbd == nil ? "tgt target, ACL, CHAP" : "Ceph image check"))", check: "tether export list")
    }
}

extension AgentEndpoint where Response == ExportList {
    public static var exports: Self { Self(method: "GET", target: "/v1/exports").waiting("listing exports", check: "tether export list") }
}

extension AgentEndpoint where Response == ExportDeletion {
    /// Revokes `initiator`'s access, or removes the whole export when `initiator` is nil.
    public static func deleteExport(volumeID: String, initiator: String? = nil) -> Self {
        var target = "/v1/exports/\(percentEncoded(volumeID))"
        if let initiator {
            target += "?initiator=\(percentEncoded(initiator))"
        }
        return Self(method: "DELETE", target: target).waiting("unexporting \(volumeID)", check: "tether export list")
    }
}

/// `text` with everything but RFC 3986's unreserved characters percent-encoded, fit for a path
/// segment or a query value (IQNs have ':', volume names may have '/').
func percentEncoded(_ text: String) -> String {
    var unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    unreserved.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
}

extension AgentEndpoint where Response == ReconcileReport {
    public static func reconcile(_ request: ReconcileRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/reconcile", json: request)
            .waiting("reconciling the journal with this node (sessions, maps, mappings)", check: "tether list")
    }
}

extension AgentEndpoint where Response == DoctorReport {
    /// `GET /v1/doctor`: every check runs at once; the clock-skew check may wait for monitors.
    public static var doctor: Self {
        Self(method: "GET", target: "/v1/doctor").waiting("checking this node (doctor)", check: "tether doctor")
    }
}

extension AgentEndpoint where Response == QemuHookResponse {
    /// One call of the libvirt qemu hook.
    public static func qemuHook(_ request: QemuHookRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/hooks/qemu", json: request)
            .waiting("libvirt hook: \(request.action.rawValue) of domain \(request.domain)", check: "tether list")
    }
}
