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
        try auth?.validate(field: "auth")
    }
}

extension LocalDetachRequest {
    public func validate() throws {
        try auth?.validate(field: "auth")
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

extension CallerCredentials {
    /// Every field the chosen way of authenticating needs is there and well formed; secrets are
    /// checked without ever being echoed.
    public func validate(field: FieldPath) throws {
        for (key, value) in [
            ("username", username), ("user_domain_name", userDomainName), ("project_name", projectName), ("project_id", projectID),
            ("project_domain_name", projectDomainName), ("application_credential_id", applicationCredentialID), ("region_name", regionName),
        ] {
            if let value { try TextGrammar.check(value, field: field.key(key), maximumBytes: 255) }
        }
        for (key, value) in [("auth_url", authURL), ("endpoint", endpoint)] {
            if let value { try Self.checkURL(value, field: field.key(key)) }
        }
        if let interface, !["public", "internal", "admin", "publicURL", "internalURL", "adminURL"].contains(interface) {
            throw TetherError.invalidField(field.key("interface"), "is \"\(interface)\", not public, internal or admin", hint: "use one of the catalog's interfaces")
        }
        for (key, value) in [("password", password), ("application_credential_secret", applicationCredentialSecret), ("token", token)] {
            try value?.reveal { try Self.checkSecret($0, field: field.key(key)) }
        }
        if let caCertificates {
            try TextGrammar.check(caCertificates, field: field.key("cacert_pem"), maximumBytes: 1 << 20, allowing: ["\n", "\r", "\t"])
            guard caCertificates.contains("-----BEGIN CERTIFICATE-----") else {
                throw TetherError.invalidField(field.key("cacert_pem"), "holds no PEM certificate", hint: "name a PEM file of CA certificates as cacert (or OS_CACERT)")
            }
        }
        try checkComplete(field: field)
    }

    private func checkComplete(field: FieldPath) throws {
        func need(_ key: String, _ present: Bool, _ source: String) throws {
            guard present else {
                throw TetherError.invalidField(
                    field.key(key), "is missing: \(authType.rawValue) auth needs it", hint: "set \(source) in clouds.yaml's auth (or the OS_* variable)")
            }
        }
        switch authType {
        case .password:
            try need("auth_url", authURL != nil, "auth_url")
            try need("username", username != nil, "username")
            try need("password", password != nil, "password")
            try need("project_name", projectName != nil || projectID != nil, "project_name or project_id")
        case .applicationCredential:
            try need("auth_url", authURL != nil, "auth_url")
            try need("application_credential_id", applicationCredentialID != nil, "application_credential_id")
            try need("application_credential_secret", applicationCredentialSecret != nil, "application_credential_secret")
        case .token:
            try need("token", token != nil, "token")
            try need("auth_url", authURL != nil || endpoint != nil, "auth_url (or endpoint)")
        }
    }

    static func checkURL(_ text: String, field: FieldPath) throws {
        try TextGrammar.check(text, field: field, maximumBytes: 2048)
        let lowered = text.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), !text.contains(" ") else {
            throw TetherError.invalidField(field, "is not an http:// or https:// URL", hint: "e.g. https://keystone.example:5000/v3")
        }
    }

    static func checkSecret(_ text: String, field: FieldPath) throws {
        if text.isEmpty {
            throw TetherError.invalidField(field, "is empty", hint: "give the secret, or leave the key out")
        }
        guard text.utf8.count <= 4096, TextGrammar.firstControlCharacter(in: text) == nil else {
            throw TetherError.invalidField(field, "is longer than 4096 bytes or holds a control character (not shown)", hint: "check the secret's value")
        }
    }
}

extension QemuHookRequest {
    /// The XML itself is checked where it is parsed (DomainXML); here only its size and text.
    public func validate() throws {
        try TextGrammar.check(domain, field: "domain", maximumBytes: 255)
        try TextGrammar.check(xml, field: "xml", maximumBytes: Self.maximumXMLBytes, allowing: ["\n", "\r", "\t"])
    }
}
