/// The `<target dev='…' bus='…'/>` of a libvirt disk: which device name the guest sees.
///
/// Every Tether disk XML starts as `vdb` on virtio; the agent gives each attachment its own
/// name (`DiskTarget.name(index:)`, the lowest one no other attachment of this node uses), so
/// several Tether disks in one domain never collide, and `tether disk-xml --target --bus`
/// rewrites it for a caller with other needs.
public struct DiskTarget: Sendable, Hashable {
    public enum Bus: String, Sendable, CaseIterable, Codable {
        case virtio, scsi, sata, ide, usb
        /// libvirt's name prefix for the bus: `vd`, `sd` or `hd`.
        public var prefix: String {
            switch self {
            case .virtio: "vd"
            case .scsi, .sata, .usb: "sd"
            case .ide: "hd"
            }
        }
    }

    public var device: String
    public var bus: Bus

    public init(device: String, bus: Bus) {
        self.device = device
        self.bus = bus
    }

    /// The first index handed out: `vda` is left to the domain's root disk.
    public static let firstIndex = 1
    /// `vdzzz`: names are node-wide (one per attachment), so two letters (701 names) would cap a
    /// node at 701 attachments with disk XML; libvirt and Linux name disks with any number of
    /// letters (`virDiskNameToIndex`, `vdaaa` after `vdzz`).
    public static let lastIndex = 26 + 26 * 26 + 26 * 26 * 26 - 1

    /// libvirt's disk naming: index 0 is `a`, 25 `z`, 26 `aa`, … (`virDiskNameToIndex`).
    public static func name(index: Int, bus: Bus = .virtio) -> String {
        var letters: [Character] = []
        var n = index
        repeat {
            letters.insert(Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(n % 26))), at: 0)
            n = n / 26 - 1
        } while n >= 0
        return bus.prefix + String(letters)
    }

    /// The index of a name like `vdb` or `sdaa`; nil for anything else.
    public static func index(of device: String) -> Int? {
        guard let prefix = ["vd", "sd", "hd", "xvd"].first(where: { device.hasPrefix($0) }) else { return nil }
        let letters = device.dropFirst(prefix.count).unicodeScalars
        guard (1...3).contains(letters.count), letters.allSatisfy({ ("a"..."z").contains($0) }) else { return nil }
        var index = 0
        for letter in letters { index = index * 26 + Int(letter.value - 0x61) + 1 }
        return index - 1
    }

    /// Whether `device` is a name libvirt accepts for a disk target (1-3 letters after the prefix).
    public static func isValid(_ device: String) -> Bool { index(of: device) != nil }

    /// The target of a Tether disk XML.
    public static func of(_ xml: String) -> DiskTarget? {
        guard let line = xml.split(separator: "\n").first(where: { $0.contains("<target dev='") }) else { return nil }
        // <target dev='vdb' bus='virtio'/> splits on ' into: <target dev= | vdb |  bus= | virtio | />
        let parts = line.split(separator: "'", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[2].hasSuffix("bus="), let bus = Bus(rawValue: String(parts[3])) else { return nil }
        return DiskTarget(device: String(parts[1]), bus: bus)
    }

    /// `xml` with its `<target>` line replaced by this target.
    public func rewrite(_ xml: String) -> String {
        xml.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard line.contains("<target dev='") else { return String(line) }
            let indent = line.prefix { $0 == " " }
            return "\(indent)<target dev='\(device)' bus='\(bus.rawValue)'/>"
        }.joined(separator: "\n")
    }
}
