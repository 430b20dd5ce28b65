import TetherCore

/// The checks of each request body, run by the agent before anything is journaled or touched,
/// and by `tether` before it sends.
extension CreateAttachmentRequest {
    public func validate() throws {
        if let volumeID {
            try IdentifierGrammar.volumeID.check(volumeID, field: "volume_id")
        }
        try connectionInfo.validate(field: "connection_info")
        if breakLock == true, force != true {
            throw TetherError.invalidField(
                "break_lock", "needs force: true", hint: "breaking another client's lock is a forced take-over: send force: true with it (tether attach --force --break-lock)")
        }
    }
}

extension FenceRequest {
    /// The address as the blocklist names it, without a messenger prefix.
    public func validate() throws -> String {
        if let expireSeconds {
            _ = try NumberGrammar.check(.int(expireSeconds), field: "expire_seconds", range: Self.expireRange, what: "expire_seconds (seconds)")
        }
        if let user {
            try IdentifierGrammar.cephUser.check(user, field: "user")
        }
        return try CephClientAddressGrammar.check(address, field: "address")
    }
}

extension LocalAttachRequest {
    public func validate() throws {
        try IdentifierGrammar.volumeID.check(volumeID, field: "volume_id")
    }
}

extension CreateExportRequest {
    public func validate() throws {
        try IdentifierGrammar.volumeID.check(volume.id, field: "volume.id")
        if let path = volume.path {
            try BackingPathGrammar.check(path, field: "volume.path")
        }
        if let size = volume.sizeBytes {
            // The decoder range-checks JSON; a request built in code is checked here.
            _ = try NumberGrammar.check(.int(Int64(clamping: size)), field: "volume.size_bytes", range: NumberGrammar.sizeBytes, what: "size_bytes")
        }
        try volume.validateSize()
        if let image = volume.rbd {
            try IdentifierGrammar.clusterName.check(image.cluster, field: "volume.rbd.cluster")
            try IdentifierGrammar.poolName.check(image.pool, field: "volume.rbd.pool")
            try IdentifierGrammar.imageName.check(image.image, field: "volume.rbd.image")
            if let user = image.user {
                try IdentifierGrammar.cephUser.check(user, field: "volume.rbd.user")
            }
        }
        try connector.validate(field: "connector")
    }
}

extension ConnectorProperties {
    /// The keys Tether uses; others are kept as they came.
    public func validate(field: FieldPath) throws {
        if let initiator {
            try ISCSINameGrammar.check(initiator, field: field.key("initiator"), what: "an initiator name")
        }
        if let host {
            try TextGrammar.check(host, field: field.key("host"), maximumBytes: 255)
        }
        if let ip {
            try AddressGrammar.checkHost(ip, field: field.key("ip"))
        }
    }
}

extension CreateClusterRequest {
    public func validate() throws {
        try IdentifierGrammar.clusterName.check(name, field: "name")
        try UUIDGrammar.check(fsid, field: "fsid")
        guard !monHost.isEmpty, monHost.count <= 64 else {
            throw TetherError.invalidField("mon_host", "has \(monHost.count) entries; 1-64 are allowed", hint: "list the cluster's monitors")
        }
        for (index, address) in monHost.enumerated() {
            try TextGrammar.check(address, field: FieldPath("mon_host").index(index), maximumBytes: 512)
        }
        guard users.count <= 64 else {
            throw TetherError.invalidField("users", "has \(users.count) entries; at most 64 are allowed", hint: "register the users Cinder gives out")
        }
        for (index, user) in users.enumerated() {
            let field = FieldPath("users").index(index)
            try IdentifierGrammar.cephUser.check(user.name, field: field.key("name"))
            if let uuid = user.secretUUID {
                try UUIDGrammar.check(uuid, field: field.key("secret_uuid"))
            }
            try user.key.reveal { key in
                // A cephx key is base64: the text is checked without ever being shown.
                guard !key.isEmpty, key.utf8.count <= 1024,
                    key.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) || "+/=".unicodeScalars.contains($0) })
                else {
                    throw TetherError.invalidField(field.key("key"), "is not a base64 cephx key", hint: "pass the key of `ceph auth get-key client.<user>`")
                }
            }
        }
    }
}

extension CreateExportRequest.Volume {
    /// Whole sectors: tgt serves a backing file in 512-byte blocks.
    func validateSize() throws {
        if let size = sizeBytes, size % 512 != 0 {
            throw TetherError.invalidField("volume.size_bytes", "\(size) is not a multiple of 512", hint: "give whole 512-byte sectors, e.g. 67108864 for 64 MiB")
        }
    }
}
