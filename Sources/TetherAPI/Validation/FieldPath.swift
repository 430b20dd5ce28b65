import TetherCore

/// Where a value sits in a request, written as a JSON path (`connection_info.data.target_portals[1]`),
/// or as the name of a path or query parameter. Every `invalid_input` error names one.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var description: String

    public init(_ text: String) { description = text }
    public init(stringLiteral value: String) { description = value }

    /// The member `key` of this object.
    public func key(_ key: String) -> FieldPath {
        FieldPath(description.isEmpty ? key : "\(description).\(key)")
    }

    /// The element `index` of this list.
    public func index(_ index: Int) -> FieldPath {
        FieldPath("\(description)[\(index)]")
    }

    public static func pathParameter(_ name: String) -> FieldPath { FieldPath("path parameter {\(name)}") }
    public static func queryParameter(_ name: String) -> FieldPath { FieldPath("query parameter \(name)") }
}

extension TetherError {
    /// Bad input: what is wrong with which field, and how to write it instead.
    public static func invalidField(_ field: FieldPath, _ problem: String, hint: String) -> TetherError {
        TetherError(.invalidInput, "\(field): \(problem)", hint: hint)
    }
}
