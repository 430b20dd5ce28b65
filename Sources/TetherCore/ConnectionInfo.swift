/// How a connector reaches a volume: os-brick's and Cinder's `connection_info`.
///
/// Reads both shapes Cinder produces: the nested legacy one
/// (`{"driver_volume_type": "iscsi", "data": {...}}`, also wrapped as `{"connection_info": ...}`)
/// and the flat one of the attachments API (data keys beside `driver_volume_type`).
/// Keys Tether does not model stay in `data` or `extra` and are written back.
public struct ConnectionInfo: Sendable, Hashable {
    public enum Shape: String, Sendable, Codable {
        case nested, flat
    }

    public var driverVolumeType: String
    public var data: [String: JSONValue]
    /// Top-level keys of the nested shape other than `driver_volume_type` and `data`
    /// (Nova's `serial`, `attachment_id`, ...).
    public var extra: [String: JSONValue]
    /// The shape this value was read from; `encode` writes the nested shape unless asked.
    public var shape: Shape

    public init(driverVolumeType: String, data: [String: JSONValue], extra: [String: JSONValue] = [:], shape: Shape = .nested) {
        self.driverVolumeType = driverVolumeType
        self.data = data
        self.extra = extra
        self.shape = shape
    }

    /// The `data.volume_id`, which Cinder always sends.
    public var volumeID: String? { data["volume_id"]?.stringValue }
}

extension ConnectionInfo {
    /// Parses a payload in any of the accepted shapes.
    /// - Throws: `TetherError.invalidInput` naming what is missing or of the wrong type.
    public init(json value: JSONValue) throws {
        guard var object = value.objectValue else {
            throw TetherError.invalidInput("connection_info must be a JSON object", hint: "pass the output of Cinder's initialize_connection or attachment create")
        }
        if object.count == 1, let inner = object["connection_info"] {
            try self.init(json: inner)
            return
        }
        guard let type = object.removeValue(forKey: "driver_volume_type") else {
            throw TetherError.missingField("driver_volume_type", in: "connection_info")
        }
        guard let typeName = type.stringValue, !typeName.isEmpty else {
            throw TetherError.invalidInput("connection_info.driver_volume_type must be a non-empty string")
        }
        if let nested = object.removeValue(forKey: "data") {
            guard let data = nested.objectValue else {
                throw TetherError.invalidInput("connection_info.data must be a JSON object")
            }
            self.init(driverVolumeType: typeName, data: data, extra: object, shape: .nested)
        } else {
            self.init(driverVolumeType: typeName, data: object, extra: [:], shape: .flat)
        }
    }

    /// The JSON value in `shape` (nested unless told otherwise).
    public func json(shape: Shape = .nested) -> JSONValue {
        switch shape {
        case .nested:
            var object = extra
            object["driver_volume_type"] = .string(driverVolumeType)
            object["data"] = .object(data)
            return .object(object)
        case .flat:
            var object = extra.merging(data) { _, data in data }
            object["driver_volume_type"] = .string(driverVolumeType)
            return .object(object)
        }
    }

    /// The same connection_info with every secret-bearing value, at any depth of `data` and of
    /// the other top-level keys, replaced by `<redacted>` (`Redaction`'s rule): fit for the
    /// journal, logs and answers.
    public func redacted() -> ConnectionInfo {
        var copy = self
        copy.data = Redaction.redact(.object(data)).objectValue ?? [:]
        copy.extra = Redaction.redact(.object(extra)).objectValue ?? [:]
        return copy
    }

    /// Whether `key` names a credential (`Redaction.isSecretKey`).
    public static func isSecretKey(_ key: String) -> Bool {
        Redaction.isSecretKey(key)
    }

    /// Every secret text this connection_info holds, at any depth.
    public var secretValues: Set<String> { Redaction.secretValues(in: json()) }
}

extension ConnectionInfo: Codable {
    public init(from decoder: any Decoder) throws {
        try self.init(json: try JSONValue(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try json(shape: .nested).encode(to: encoder)
    }
}
