internal import CVirt
import Dispatch
import Foundation
import TetherCore

extension TetherError.Code {
    public static let libvirtFailed = Self(rawValue: "libvirt.failed")
}

/// libvirt secrets through the libvirt C API: defined with a fixed UUID, private (libvirt never
/// gives the value back) and persistent, the value set from memory — never a file or a command line.
///
/// A libvirt connection may be used from any thread, but its calls block: they run on this
/// object's queue.
public final class LibvirtSecrets: LibvirtSecretStore, @unchecked Sendable {
    private let connection: OpaquePointer
    private let queue = DispatchQueue(label: "tether.libvirt")
    public let uri: String

    /// Opens `uri` (e.g. `qemu:///system`). The corresponding C function is `virConnectOpen`.
    public init(uri: String) throws {
        guard let connection = virConnectOpen(uri) else {
            throw Self.failure("cannot connect to libvirt at \(uri)", hint: "start libvirtd, or set [libvirt] uri in tether.toml")
        }
        self.connection = connection
        self.uri = uri
    }

    deinit {
        virConnectClose(connection)
    }

    /// Defines the secret (or finds it defined) and sets its value. Idempotent.
    /// - Throws: `conflict` when another secret already has this usage, or this UUID has another usage.
    public func ensure(uuid: UUID, usage: LibvirtSecretUsage, description: String, value: [UInt8]) async throws {
        let xml = Self.definition(uuid: uuid, usage: usage, description: description)
        try await perform {
            guard let secret = virSecretDefineXML(self.connection, xml, 0) else {
                let message = Self.lastError()
                if message.contains("already") {
                    throw TetherError(
                        .conflict, "libvirt refuses secret \(uuid.uuidString.lowercased()) for \(usage.kind.rawValue) '\(usage.name)': \(message)",
                        hint: "another secret has this usage (virsh secret-list), or this UUID was defined with another usage")
                }
                throw TetherError(.libvirtFailed, "cannot define libvirt secret \(uuid.uuidString.lowercased()): \(message)")
            }
            defer { virSecretFree(secret) }
            let result = value.withUnsafeBufferPointer { virSecretSetValue(secret, $0.baseAddress, $0.count, 0) }
            guard result == 0 else {
                throw TetherError(.libvirtFailed, "cannot set the value of libvirt secret \(uuid.uuidString.lowercased()): \(Self.lastError())")
            }
        }
    }

    /// Undefines the secret; one that is not there is fine.
    public func remove(uuid: UUID) async throws {
        try await perform {
            guard let secret = virSecretLookupByUUIDString(self.connection, uuid.uuidString.lowercased()) else { return }
            defer { virSecretFree(secret) }
            guard virSecretUndefine(secret) == 0 else {
                throw TetherError(.libvirtFailed, "cannot undefine libvirt secret \(uuid.uuidString.lowercased()): \(Self.lastError())")
            }
        }
    }

    /// Every secret of `kind` libvirt has. The corresponding C function is `virConnectListAllSecrets`.
    public func secrets(of kind: LibvirtSecretUsage.Kind) async throws -> [LibvirtSecretInfo] {
        try await perform {
            var secrets: UnsafeMutablePointer<OpaquePointer?>?
            let count = virConnectListAllSecrets(self.connection, &secrets, 0)
            guard count >= 0, let secrets else { throw TetherError(.libvirtFailed, "cannot list libvirt secrets: \(Self.lastError())") }
            defer { free(secrets) }
            var result: [LibvirtSecretInfo] = []
            for index in 0..<Int(count) {
                guard let secret = secrets[index] else { continue }
                defer { virSecretFree(secret) }
                guard virSecretGetUsageType(secret) == Self.usageType(kind) else { continue }
                var buffer = [CChar](repeating: 0, count: 64)
                // A secret undefined by someone else between the listing and here has no UUID left.
                guard virSecretGetUUIDString(secret, &buffer) == 0,
                    let uuid = UUID(uuidString: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                else { continue }
                let usage = virSecretGetUsageID(secret).map { String(cString: $0) } ?? ""
                result.append(LibvirtSecretInfo(uuid: uuid, usage: LibvirtSecretUsage(kind, usage), isPrivate: Self.isPrivate(secret)))
            }
            return result
        }
    }

    /// The secret's value; nil when it is private, has none, or is gone. The corresponding C
    /// function is `virSecretGetValue`.
    public func value(uuid: UUID) async throws -> [UInt8]? {
        try await perform {
            guard let secret = virSecretLookupByUUIDString(self.connection, uuid.uuidString.lowercased()) else { return nil }
            defer { virSecretFree(secret) }
            var size = 0
            guard let bytes = virSecretGetValue(secret, &size, 0) else { return nil }
            defer {
                // The value is a key: wipe libvirt's copy before it goes back to malloc.
                memset(bytes, 0, size)
                free(bytes)
            }
            return Array(UnsafeBufferPointer(start: bytes, count: size))
        }
    }

    private static func isPrivate(_ secret: OpaquePointer) -> Bool {
        guard let xml = virSecretGetXMLDesc(secret, 0) else { return true }
        defer { free(xml) }
        let text = String(cString: xml)
        return text.contains("private='yes'") || text.contains("private=\"yes\"")
    }

    static func usageType(_ kind: LibvirtSecretUsage.Kind) -> Int32 {
        switch kind {
        case .ceph: Int32(VIR_SECRET_USAGE_TYPE_CEPH.rawValue)
        case .iscsi: Int32(VIR_SECRET_USAGE_TYPE_ISCSI.rawValue)
        }
    }

    /// The secret's XML: private and not ephemeral, with the fixed UUID.
    public static func definition(uuid: UUID, usage: LibvirtSecretUsage, description: String) -> String {
        let escape = DiskDescription.xmlEscaped
        let usageElement = usage.kind == .iscsi ? "target" : "name"
        return """
            <secret ephemeral='no' private='yes'>
              <uuid>\(uuid.uuidString.lowercased())</uuid>
              <description>\(escape(description))</description>
              <usage type='\(usage.kind.rawValue)'><\(usageElement)>\(escape(usage.name))</\(usageElement)></usage>
            </secret>
            """
    }

    private func perform<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    static func lastError() -> String {
        virGetLastErrorMessage().map { String(cString: $0) } ?? "unknown libvirt error"
    }

    static func failure(_ message: String, hint: String) -> TetherError {
        TetherError(.libvirtFailed, "\(message): \(lastError())", hint: hint)
    }
}
