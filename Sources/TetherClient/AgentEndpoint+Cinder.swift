import TetherAPI

extension AgentEndpoint where Response == LocalAttachmentBody {
    /// Answers 201 when it attached, 200 when the volume was already local-attached.
    public static func localAttach(_ request: LocalAttachRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/local-attachments", json: request)
    }

    public static func localAttachment(_ volumeID: String) -> Self {
        Self(method: "GET", target: "/v1/local-attachments/\(percentEncoded(volumeID))")
    }
}

extension AgentEndpoint where Response == LocalAttachmentList {
    public static var localAttachments: Self { Self(method: "GET", target: "/v1/local-attachments") }
}

extension AgentEndpoint where Response == LocalDetachResponse {
    public static func localDetach(_ volumeID: String, force: Bool) -> Self {
        Self(method: "DELETE", target: "/v1/local-attachments/\(percentEncoded(volumeID))?force=\(force)")
    }
}

extension AgentEndpoint where Response == CinderConnectionBody {
    /// Cinder's initialize_connection of `volumeID` for this node's connector.
    public static func cinderInitialize(_ volumeID: String, multipath: Bool?) -> Self {
        Self(method: "POST", target: "/v1/cinder/connections/\(percentEncoded(volumeID))" + (multipath.map { "?multipath=\($0)" } ?? ""))
    }

    /// Cinder's terminate_connection of `volumeID` for this node's connector.
    public static func cinderTerminate(_ volumeID: String, multipath: Bool?) -> Self {
        Self(method: "DELETE", target: "/v1/cinder/connections/\(percentEncoded(volumeID))" + (multipath.map { "?multipath=\($0)" } ?? ""))
    }
}
