import TetherCore

/// `POST /v1/reconcile`: compare every journaled attachment with the host now.
public struct ReconcileRequest: Codable, Sendable, Hashable {
    /// Repair what can safely be repaired (default: the agent's `[reconcile] heal`, true).
    public var heal: Bool?
    /// Remove the orphans found (default false: they are only reported).
    public var clean: Bool?

    public init(heal: Bool? = nil, clean: Bool? = nil) {
        self.heal = heal
        self.clean = clean
    }
}

/// What one reconcile found and did.
public struct ReconcileReport: Codable, Sendable, Hashable {
    /// One attached volume, as found.
    public struct Check: Codable, Sendable, Hashable {
        public var id: String
        public var volumeID: String
        public var status: AttachmentHealth
        /// The status before this reconcile.
        public var previous: AttachmentHealth
        public var problems: [String]
        public var repairs: [String]

        public init(id: String, volumeID: String, status: AttachmentHealth, previous: AttachmentHealth, problems: [String], repairs: [String]) {
            self.id = id
            self.volumeID = volumeID
            self.status = status
            self.previous = previous
            self.problems = problems
            self.repairs = repairs
        }

        enum CodingKeys: String, CodingKey {
            case id
            case volumeID = "volume_id"
            case status, previous, problems, repairs
        }
    }

    /// An attach whose rollback, or a detach, that had not finished: retried by this reconcile.
    public struct Unfinished: Codable, Sendable, Hashable {
        public var id: String
        public var volumeID: String
        public var state: String
        /// True when this reconcile finished it (the row is gone).
        public var finished: Bool
        public var error: String?

        public init(id: String, volumeID: String, state: String, finished: Bool, error: String?) {
            self.id = id
            self.volumeID = volumeID
            self.state = state
            self.finished = finished
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case id
            case volumeID = "volume_id"
            case state, finished, error
        }
    }

    /// Host state that looks like Tether's but no journaled attachment describes.
    public struct OrphanFinding: Codable, Sendable, Hashable {
        public var orphan: Orphan
        /// True when this reconcile removed it (`clean`).
        public var removed: Bool
        public var error: String?

        public init(orphan: Orphan, removed: Bool, error: String? = nil) {
            self.orphan = orphan
            self.removed = removed
            self.error = error
        }

        public init(from decoder: any Decoder) throws {
            orphan = try Orphan(from: decoder)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            removed = try container.decode(Bool.self, forKey: .removed)
            error = try container.decodeIfPresent(String.self, forKey: .error)
        }

        public func encode(to encoder: any Encoder) throws {
            try orphan.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(removed, forKey: .removed)
            try container.encodeIfPresent(error, forKey: .error)
        }

        enum CodingKeys: String, CodingKey { case removed, error }
    }

    public var attachments: [Check]
    public var unfinished: [Unfinished]
    public var orphans: [OrphanFinding]
    /// What could not be looked at (a connector whose orphan scan failed), one line each.
    public var errors: [String]
    public var healed: Bool
    public var elapsedMilliseconds: Int

    public init(attachments: [Check], unfinished: [Unfinished], orphans: [OrphanFinding], errors: [String], healed: Bool, elapsedMilliseconds: Int) {
        self.attachments = attachments
        self.unfinished = unfinished
        self.orphans = orphans
        self.errors = errors
        self.healed = healed
        self.elapsedMilliseconds = elapsedMilliseconds
    }

    /// True when every attachment is healthy, nothing is unfinished and no orphan is left.
    public var isClean: Bool {
        attachments.allSatisfy { $0.status == .healthy } && unfinished.allSatisfy(\.finished) && orphans.allSatisfy(\.removed) && errors.isEmpty
    }

    enum CodingKeys: String, CodingKey {
        case attachments, unfinished, orphans, errors, healed
        case elapsedMilliseconds = "elapsed_ms"
    }
}
