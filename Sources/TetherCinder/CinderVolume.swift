import TetherCore

/// What Tether needs of a Cinder volume.
public struct CinderVolume: Sendable, Hashable {
    public var id: String
    public var status: String
    public var multiattach: Bool
    public var volumeType: String?
    public var sizeGiB: Int
    /// Cinder's `encrypted`: the volume carries a LUKS layer whose key only Nova's path sets up.
    public var encrypted: Bool
    /// Attachment ids and the hosts they are for.
    public var attachments: [(id: String, host: String?)]

    init?(_ value: JSONValue) {
        guard let id = value["id"]?.stringValue, let status = value["status"]?.stringValue else { return nil }
        self.id = id
        self.status = status
        multiattach = value["multiattach"]?.boolValue ?? false
        volumeType = value["volume_type"]?.stringValue
        sizeGiB = value["size"]?.intValue ?? 0
        // Anything but a clear false counts as encrypted: refusing is the safe side.
        encrypted = value["encrypted"].map { $0.isNull ? false : ($0.boolValue ?? true) } ?? false
        attachments = (value["attachments"]?.arrayValue ?? []).compactMap { attachment in
            guard let id = attachment["attachment_id"]?.stringValue ?? attachment["id"]?.stringValue else { return nil }
            return (id, attachment["host_name"]?.stringValue)
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.id == rhs.id && lhs.status == rhs.status && lhs.attachments.map(\.id) == rhs.attachments.map(\.id)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(status)
    }
}
