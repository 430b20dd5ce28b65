import Foundation
import TetherCore

/// docs/openapi.json read back for tests: which operations it documents, and whether an answer
/// of the agent fits the schema it documents. Covers the subset of OpenAPI 3.0 schemas the
/// document uses: $ref, type, properties, required, additionalProperties, items, enum, nullable,
/// minimum, pattern.
public struct OpenAPIDocument: Sendable {
    public let root: JSONValue

    /// One documented operation, path as the document writes it ("/v1/attachments/{ref}").
    public struct Operation: Hashable, Sendable, CustomStringConvertible {
        public let method: String
        public let path: String
        public init(method: String, path: String) {
            self.method = method.uppercased()
            self.path = path
        }
        public var description: String { "\(method) \(path)" }
    }

    public init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        root = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// The repository's docs/openapi.json, found from this source file.
    public static func repository(filePath: String = #filePath) throws -> OpenAPIDocument {
        var directory = URL(fileURLWithPath: filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("docs/openapi.json").path
            if FileManager.default.fileExists(atPath: candidate) { return try OpenAPIDocument(path: candidate) }
            directory.deleteLastPathComponent()
        }
        throw TetherError(.notFound, "no docs/openapi.json above \(filePath)")
    }

    static let methods = ["get", "put", "post", "delete", "patch", "head", "options"]

    public var operations: Set<Operation> {
        var result: Set<Operation> = []
        for (path, item) in root["paths"]?.objectValue ?? [:] {
            for method in Self.methods where item[method] != nil {
                result.insert(Operation(method: method, path: path))
            }
        }
        return result
    }

    /// The operation object, nil when undocumented.
    public func operation(_ operation: Operation) -> JSONValue? {
        root["paths"]?[operation.path]?[operation.method.lowercased()]
    }

    /// Every `$ref` in the document that names nothing.
    public var danglingReferences: [String] {
        var dangling: [String] = []
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let object):
                if let target = object["$ref"]?.stringValue, resolve(target) == nil { dangling.append(target) }
                object.values.forEach(walk)
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        walk(root)
        return dangling
    }

    func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        return reference.dropFirst(2).split(separator: "/").reduce(Optional(root)) { $0?[String($1)] }
    }

    /// The documented operation a request reaches: its path (query dropped) matched segment by
    /// segment, `{name}` taking any one, literal segments preferred; nil when none has `method`.
    public func operation(method: String, target: String) -> Operation? {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        // Empty segments are skipped, as Hummingbird's router does ("v1//health" is /v1/health).
        let segments = path.split(separator: "/")
        var best: (operation: Operation, literals: Int)?
        for template in root["paths"]?.objectValue?.keys.sorted() ?? [] {
            let parts = template.split(separator: "/")
            guard parts.count == segments.count else { continue }
            var literals = 0
            let fits = zip(parts, segments).allSatisfy { part, segment in
                if part.hasPrefix("{") { return true }
                literals += 1
                return part == segment
            }
            let operation = Operation(method: method, path: template)
            guard fits, self.operation(operation) != nil, literals > (best?.literals ?? -1) else { continue }
            best = (operation, literals)
        }
        return best?.operation
    }

    /// What is wrong with `body` as the error body every route answers with.
    public func problems(errorBody body: JSONValue) -> [String] {
        problems(body, .object(["$ref": "#/components/schemas/Error"]), at: "$")
    }

    /// What is wrong with `body` as the answer `status` of `operation`; empty when it fits.
    public func problems(answer body: JSONValue, status: Int, of operation: Operation) -> [String] {
        guard let responses = self.operation(operation)?["responses"] else { return ["\(operation) is not documented"] }
        // "default" stands for the error statuses only: every success must be listed.
        guard var response = responses["\(status)"] ?? (status >= 400 ? responses["default"] : nil) else {
            return ["\(operation) does not document status \(status)"]
        }
        if let target = response["$ref"]?.stringValue, let resolved = resolve(target) { response = resolved }
        guard let schema = response["content"]?["application/json"]?["schema"] else {
            return ["\(operation) \(status) documents no JSON body"]
        }
        return problems(body, schema, at: "$")
    }

    func problems(_ value: JSONValue, _ schema: JSONValue, at path: String) -> [String] {
        if let target = schema["$ref"]?.stringValue {
            guard let resolved = resolve(target) else { return ["\(path): $ref \(target) names nothing"] }
            return problems(value, resolved, at: path)
        }
        if value.isNull {
            return schema["nullable"]?.boolValue == true || schema["type"] == nil ? [] : ["\(path): null is not allowed"]
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            return ["\(path): \(value) is not one of \(allowed)"]
        }
        switch schema["type"]?.stringValue {
        case "object"?:
            guard let object = value.objectValue else { return ["\(path): expected an object, got \(value)"] }
            var found: [String] = []
            let properties = schema["properties"]?.objectValue ?? [:]
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[key] == nil {
                found.append("\(path): \"\(key)\" is required")
            }
            for (key, item) in object {
                if let propertySchema = properties[key] {
                    found += problems(item, propertySchema, at: "\(path).\(key)")
                } else if schema["additionalProperties"] == .bool(false) {
                    found.append("\(path): \"\(key)\" is not documented")
                }
            }
            return found
        case "array"?:
            guard let items = value.arrayValue else { return ["\(path): expected an array, got \(value)"] }
            guard let itemSchema = schema["items"] else { return [] }
            return items.indices.flatMap { problems(items[$0], itemSchema, at: "\(path)[\($0)]") }
        case "string"?:
            guard let text = value.stringValue else { return ["\(path): expected a string, got \(value)"] }
            if let pattern = schema["pattern"]?.stringValue, text.range(of: pattern, options: .regularExpression) == nil {
                return ["\(path): \"\(text)\" does not match \(pattern)"]
            }
            return []
        case "integer"?:
            guard case .int(let number) = value else { return ["\(path): expected an integer, got \(value)"] }
            if let minimum = schema["minimum"]?.intValue, number < Int64(minimum) { return ["\(path): \(number) is below \(minimum)"] }
            return []
        case "number"?:
            switch value {
            case .int, .double: return []
            default: return ["\(path): expected a number, got \(value)"]
            }
        case "boolean"?:
            guard case .bool = value else { return ["\(path): expected true or false, got \(value)"] }
            return []
        default:
            return []
        }
    }
}
