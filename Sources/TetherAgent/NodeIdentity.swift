import Foundation
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// This node's connector properties, as os-brick's `get_connector_properties` reports them.
enum NodeIdentity {
    static func connector(_ configuration: AgentConfiguration, host: any TetherCore.Host) async -> ConnectorProperties {
        var initiator = configuration.initiator
        if initiator == nil {
            initiator = await initiatorName(file: configuration.initiatorFile, host: host)
        }
        return ConnectorProperties(
            initiator: initiator,
            host: configuration.hostName ?? hostName(), ip: configuration.ip ?? firstAddress(),
            multipath: configuration.multipath, enforceMultipath: false, platform: machine(), osType: "linux",
            doLocalAttach: false)
    }

    /// `InitiatorName=` of open-iscsi's initiatorname.iscsi.
    /// Nil when the file is missing or unreadable: the agent then warns that it has no name.
    static func initiatorName(file: String, host: any TetherCore.Host) async -> String? {
        guard let text = try? await host.read(file) else { return nil }
        return parseInitiatorName(text)
    }

    static func parseInitiatorName(_ text: String) -> String? {
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), trimmed.hasPrefix("InitiatorName=") else { continue }
            let name = trimmed.dropFirst("InitiatorName=".count).trimmingCharacters(in: .whitespaces)
            if !name.isEmpty { return name }
        }
        return nil
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return Self.string(buffer)
    }

    static func machine() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: &name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The first non-loopback IPv4 address, else 127.0.0.1.
    static func firstAddress() -> String {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return "127.0.0.1" }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                entry.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0
            else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                var sin = inet.pointee.sin_addr
                _ = inet_ntop(AF_INET, &sin, &text, socklen_t(text.count))
            }
            return Self.string(text)
        }
        return "127.0.0.1"
    }
}
