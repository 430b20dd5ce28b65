import TetherAPI

extension AgentEndpoint where Response == ConnectionBody {
    /// Answers 201 when it connected, 200 when the volume was already connected.
    public static func connect(_ request: ConnectRequest) throws -> Self {
        try Self(method: "POST", target: "/v1/connections", json: request)
            .waiting("connecting \(request.volume.id) (export on \(request.storage), attach here)", check: "tether connections")
    }

    public static func connection(_ volumeID: String) -> Self {
        Self(method: "GET", target: "/v1/connections/\(percentEncoded(volumeID))").waiting("reading connection \(volumeID)", check: "tether connections")
    }
}

extension AgentEndpoint where Response == ConnectionList {
    public static var connections: Self {
        Self(method: "GET", target: "/v1/connections").waiting("listing connections", check: "tether connections")
    }
}

extension AgentEndpoint where Response == DisconnectResponse {
    public static func disconnect(_ volumeID: String) -> Self {
        Self(method: "DELETE", target: "/v1/connections/\(percentEncoded(volumeID))")
            .waiting("disconnecting \(volumeID) (detach here, revoke on the storage node)", check: "tether connections")
    }
}

extension TetherAgentClient {
    /// Connects a volume from a storage node; `created` is false when it was already connected.
    public func connect(_ request: ConnectRequest) async throws -> (connection: ConnectionBody, created: Bool) {
        let reply = try await reply(.connect(request))
        return (try reply.value(), reply.created)
    }

    public func connections() async throws -> [ConnectionBody] {
        try await send(.connections).connections
    }

    public func disconnect(_ volumeID: String) async throws -> DisconnectResponse {
        try await send(.disconnect(volumeID))
    }
}
