/// Another Ceph client an image names: who holds its exclusive lock, or watches it (has it open
/// read-write). Named as Ceph names it, so an operator can find it (`rbd status`, `rbd lock ls`)
/// and fence it (`tether fence`).
public struct RBDClient: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The entity, "client.4115"; from the lock record, or the watcher's global id.
    public var name: String
    /// The client instance, "127.0.0.1:0/2986647972" (IP:port/nonce): what a blocklist entry names.
    public var address: String

    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }

    public var description: String { "\(name) at \(address)" }

    /// The address without Ceph's messenger prefix ("v1:", "v2:", "any:"), as `osd blocklist`
    /// lists it, so a watcher's address and a blocklist entry compare equal.
    public var instance: String { Self.instance(address) }

    public static func instance(_ address: String) -> String {
        for prefix in ["v1:", "v2:", "any:"] where address.hasPrefix(prefix) {
            return String(address.dropFirst(prefix.count))
        }
        return address
    }
}
