import TetherCore

/// What names a krbd mapping: the cluster's fsid and the image (pool, namespace, name, snapshot).
///
/// Device numbers do not: the kernel reuses them and they change at reboot. Pool and image alone
/// do not either: two clusters may both have `volumes/volume-1`, which is why Ceph's
/// `rbd device list` and `/dev/rbd/<pool>/<image>` cannot tell them apart and Tether matches the
/// fsid too (sysfs `cluster_fsid`).
public struct KRBDImageSpec: Sendable, Hashable, CustomStringConvertible {
    /// The kernel's `current_snap` of a mapping of the image itself, not a snapshot.
    public static let headSnapshot = "-"

    /// Lower case, as the kernel prints it.
    public var fsid: String
    public var pool: String
    /// "" for none, as the kernel's `pool_ns` shows it.
    public var namespace: String
    public var image: String
    public var snapshot: String

    public init(fsid: String, pool: String, namespace: String = "", image: String, snapshot: String = KRBDImageSpec.headSnapshot) {
        self.fsid = fsid.lowercased()
        self.pool = pool
        self.namespace = namespace
        self.image = image
        self.snapshot = snapshot.isEmpty ? Self.headSnapshot : snapshot
    }

    /// `pool[/namespace]/image[@snapshot]`, as `rbd` writes an image spec.
    public var imageName: String {
        var name = pool + "/"
        if !namespace.isEmpty { name += namespace + "/" }
        name += image
        if snapshot != Self.headSnapshot { name += "@" + snapshot }
        return name
    }

    public var description: String { "\(imageName) of cluster \(fsid)" }

    /// The key of this image's udev map file (see `StableNames`).
    public var mapKey: String {
        StableNames.rbdKey(fsid: fsid, pool: pool, namespace: namespace, image: image, snapshot: snapshot)
    }

    /// The same image name, whichever cluster.
    func sameImage(as other: KRBDImageSpec) -> Bool {
        pool == other.pool && namespace == other.namespace && image == other.image && snapshot == other.snapshot
    }

    /// The kernel splits its add string at blanks and its options at commas, so names holding
    /// either cannot be mapped (and must not smuggle in options).
    /// - Throws: `invalid_input` naming the part.
    func checkMappable() throws {
        for (part, value) in [("pool", pool), ("namespace", namespace), ("image", image), ("snapshot", snapshot)] {
            guard part == "namespace" || !value.isEmpty else {
                throw TetherError.invalidInput("the rbd \(part) name is empty")
            }
            if value.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "," || ($0.asciiValue ?? 0x20) < 0x20 }) {
                throw TetherError.invalidInput(
                    "the rbd \(part) name \"\(value)\" holds a blank, a comma or a control character, which the kernel's rbd driver cannot take",
                    hint: "attach it in network mode, or rename the \(part)")
            }
        }
    }
}
