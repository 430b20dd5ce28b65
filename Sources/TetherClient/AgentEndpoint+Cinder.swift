import TetherAPI

extension AgentEndpoint where Response == LocalAttachmentBody {
    /// Answers 201 when it attached, 200 when the volume was already local-attached.
    public static func localAttach(_ request: LocalAttachRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/local-attachments", json: request)
            .waiting("local-attaching \(request.volumeID) (Cinder export, attach, Cinder complete)", check: "tether local-list")
    }

    public static func localAttachment(_ volumeID: String) -> Self {
        Self(method: "GET", target: "/v1/local-attachments/\(percentEncoded(volumeID))")
            .waiting("reading local attachment \(volumeID)", check: "tether local-list")
    }
}

extension AgentEndpoint where Response == LocalAttachmentList {
    public static var localAttachments: Self {
        Self(method: "GET", target: "/v1/local-attachments").waiting("listing local attachments", check: "tether local-list")
    }
}

extension AgentEndpoint where Response == LocalDetachResponse {
    public static func localDetach(_ volumeID: String, force: Bool) -> Self {
        Self(method: "DELETE", target: "/v1/local-attachments/\(percentEncoded(volumeID))?force=\(force)")
            .waiting("local-detaching \(volumeID) (detach, Cinder release)", check: "tether local-list")
    }

    /// The caller's credentials go in the body: tetherd uses them for Cinder instead of its own.
    public static func localDetach(_ volumeID: String, force: Bool, auth: CallerCredentials) throws -> Self {
        try Self(method: "DELETE", target: "/v1/local-attachments/\(percentEncoded(volumeID))?force=\(force)", json: LocalDetachRequest(auth: auth))
            .waiting("local-detaching \(volumeID) (detach, Cinder release)", check: "tether local-list")
    }
}

extension AgentEndpoint where Response == CinderConnectionBody {
    /// Cinder's initialize_connection of `volumeID` for this node's connector.
    public static func cinderInitialize(_ volumeID: String, multipath: Bool?) -> Self {
        Self(method: "POST", target: "/v1/cinder/connections/\(percentEncoded(volumeID))" + (multipath.map { "?multipath=\($0)" } ?? ""))
            .waiting("asking Cinder to initialize_connection of \(volumeID)", check: "tether cinder init \(volumeID)")
    }

    /// Cinder's terminate_connection of `volumeID` for this node's connector.
    public static func cinderTerminate(_ volumeID: String, multipath: Bool?) -> Self {
        Self(method: "DELETE", target: "/v1/cinder/connections/\(percentEncoded(volumeID))" + (multipath.map { "?multipath=\($0)" } ?? ""))
            .waiting("asking Cinder to terminate_connection of \(volumeID)", check: "tether cinder term \(volumeID)")
    }
}
