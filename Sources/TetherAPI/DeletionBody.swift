/// The answer to `DELETE /v1/attachments/{id or volume}`: what was detached; empty when nothing
/// was attached, so a repeated detach succeeds.
public struct DetachResponse: Codable, Sendable, Hashable {
    public var detached: [String]

    public init(detached: [String]) { self.detached = detached }
}

/// The answer to `DELETE /v1/exports/{volume}`: whose access was revoked and whether the target
/// went with it; empty when there was nothing to remove.
public struct ExportDeletion: Codable, Sendable, Hashable {
    public var volumeID: String
    public var initiatorsRemoved: [String]
    public var targetRemoved: Bool

    public init(volumeID: String, initiatorsRemoved: [String], targetRemoved: Bool) {
        self.volumeID = volumeID
        self.initiatorsRemoved = initiatorsRemoved
        self.targetRemoved = targetRemoved
    }

    enum CodingKeys: String, CodingKey {
        case volumeID = "volume_id"
        case initiatorsRemoved = "initiators_removed"
        case targetRemoved = "target_removed"
    }
}
