/// This node as storage sees it: os-brick's connector properties.
///
/// The keys are os-brick's (`get_connector_properties`); keys Tether does not model are kept
/// in `extra` and written back.
public struct ConnectorProperties: Sendable, Hashable {
    public var initiator: String?
    public var host: String?
    public var ip: String?
    public var multipath: Bool
    public var enforceMultipath: Bool
    public var platform: String?
    public var osType: String?
    public var doLocalAttach: Bool
    public var extra: [String: JSONValue]

    public init(
        initiator: String? = nil, host: String? = nil, ip: String? = nil, multipath: Bool = false,
        enforceMultipath: Bool = false, platform: String? = nil, osType: String? = nil,
        doLocalAttach: Bool = false, extra: [String: JSONValue] = [:]
    ) {
        self.initiator = initiator
        self.host = host
        self.ip = ip
        self.multipath = multipath
        self.enforceMultipath = enforceMultipath
        self.platform = platform
        self.osType = osType
        self.doLocalAttach = doLocalAttach
        self.extra = extra
    }

    enum Key {
        static let initiator = "initiator"
        static let host = "host"
        static let ip = "ip"
        static let multipath = "multipath"
        static let enforceMultipath = "enforce_multipath"
        static let platform = "platform"
        static let osType = "os_type"
        static let doLocalAttach = "do_local_attach"
        static let all: Set<String> = [initiator, host, ip, multipath, enforceMultipath, platform, osType, doLocalAttach]
    }
}

extension ConnectorProperties {
    public init(json value: JSONValue) throws {
        guard var object = value.objectValue else {
            throw TetherError.invalidInput("connector must be a JSON object", hint: "pass os-brick connector properties, e.g. the output of `tether connector --json`")
        }
        if object.count == 1, let inner = object["connector"] {
            try self.init(json: inner)
            return
        }
        func string(_ key: String) throws -> String? {
            guard let value = object.removeValue(forKey: key), !value.isNull else { return nil }
            guard let text = value.stringValue else {
                throw TetherError.invalidInput("connector.\(key) must be a string")
            }
            return text
        }
        func bool(_ key: String) throws -> Bool {
            guard let value = object.removeValue(forKey: key), !value.isNull else { return false }
            guard let flag = value.boolValue else {
                throw TetherError.invalidInput("connector.\(key) must be true or false")
            }
            return flag
        }
        self.init(
            initiator: try string(Key.initiator), host: try string(Key.host), ip: try string(Key.ip),
            multipath: try bool(Key.multipath), enforceMultipath: try bool(Key.enforceMultipath),
            platform: try string(Key.platform), osType: try string(Key.osType),
            doLocalAttach: try bool(Key.doLocalAttach), extra: object)
    }

    public var json: JSONValue {
        var object = extra
        func put(_ key: String, _ value: String?) {
            if let value { object[key] = .string(value) }
        }
        put(Key.initiator, initiator)
        put(Key.host, host)
        put(Key.ip, ip)
        put(Key.platform, platform)
        put(Key.osType, osType)
        object[Key.multipath] = .bool(multipath)
        object[Key.enforceMultipath] = .bool(enforceMultipath)
        object[Key.doLocalAttach] = .bool(doLocalAttach)
        return .object(object)
    }
}

extension ConnectorProperties: Codable {
    public init(from decoder: any Decoder) throws {
        try self.init(json: try JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try json.encode(to: encoder)
    }
}
