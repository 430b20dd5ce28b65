import TetherCore

/// What the libvirt qemu hook does for one (operation, sub-operation) libvirt calls it with;
/// nil for every other call, which the hook answers at once with exit 0, without asking tetherd.
public enum QemuHookAction: String, Codable, Sendable, CaseIterable {
    /// `prepare begin`: attach the domain's kernel-mode Tether disks.
    case prepare
    /// `release end`: detach what the hook attached for this domain.
    case release
    /// `migrate begin` (on the destination): rewrite secret references for this node.
    case migrate
    /// `restore begin`: as migrate, for a saved image restored here.
    case restore
    /// `reconnect begin` (libvirtd restarted): check, change nothing.
    case reconnect

    public init?(operation: String, subOperation: String) {
        switch (operation, subOperation) {
        case ("prepare", "begin"): self = .prepare
        case ("release", "end"): self = .release
        case ("migrate", "begin"): self = .migrate
        case ("restore", "begin"): self = .restore
        case ("reconnect", "begin"): self = .reconnect
        default: return nil
        }
    }

    /// The two XML filters: libvirt uses what the hook prints on stdout, the original XML when it
    /// prints nothing.
    public var filtersXML: Bool { self == .migrate || self == .restore }
}

/// `POST /v1/hooks/qemu`: one call of the libvirt qemu hook, with the domain XML libvirt gave it.
public struct QemuHookRequest: Codable, Sendable, Hashable {
    public var domain: String
    public var action: QemuHookAction
    public var xml: String

    public init(domain: String, action: QemuHookAction, xml: String) {
        self.domain = domain
        self.action = action
        self.xml = xml
    }

    /// The largest domain XML the hook passes on: the API's body limit is 1 MiB and JSON may
    /// nearly double XML's quotes; libvirt's domain XML is tens of KB.
    public static let maximumXMLBytes = 512 * 1024
}

/// What the hook did. `xml` is set only when a filter changed the XML: the hook prints it and
/// libvirt uses it; nil means "use the original" (the hook prints nothing).
public struct QemuHookResponse: Codable, Sendable, Hashable {
    public var xml: String?
    /// One line per action taken or check made, as logged.
    public var actions: [String]

    public init(xml: String? = nil, actions: [String]) {
        self.xml = xml
        self.actions = actions
    }
}
