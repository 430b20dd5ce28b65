import Foundation
import TetherCore

/// A `LibvirtSecretStore` that connects on first use, so tetherd starts (and serves everything
/// else) while libvirtd is down, and connects again after a call failed: a libvirtd restart closes
/// the old connection for good.
public actor LazyLibvirtSecrets: LibvirtSecretStore {
    public let uri: String
    private var opened: LibvirtSecrets?

    public init(uri: String) {
        self.uri = uri
    }

    public func ensure(uuid: UUID, usage: LibvirtSecretUsage, description: String, value: [UInt8]) async throws {
        try await using { try await $0.ensure(uuid: uuid, usage: usage, description: description, value: value) }
    }

    public func remove(uuid: UUID) async throws {
        try await using { try await $0.remove(uuid: uuid) }
    }

    public func secrets(of kind: LibvirtSecretUsage.Kind) async throws -> [LibvirtSecretInfo] {
        try await using { try await $0.secrets(of: kind) }
    }

    public func value(uuid: UUID) async throws -> [UInt8]? {
        try await using { try await $0.value(uuid: uuid) }
    }

    private func using<Value: Sendable>(_ body: (LibvirtSecrets) async throws -> Value) async throws -> Value {
        let connection = try opened ?? LibvirtSecrets(uri: uri)
        opened = connection
        do {
            return try await body(connection)
        } catch let error as TetherError where error.code == .libvirtFailed {
            // A refused request (a conflict) keeps the connection; a failed one may mean it is dead.
            opened = nil
            throw error
        }
    }
}
