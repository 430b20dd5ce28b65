import Foundation
import TetherCore

/// A disk of a libvirt domain that the qemu hook acts on, as read from the domain XML.
///
/// The markers: a kernel-mode Tether disk is a `<disk type='block'>` whose source is
/// `/dev/disk/by-tether/<volume id>` (the udev name Tether gives every kernel attachment); an RBD
/// disk is any `<source protocol='rbd'>` with a `<secret type='ceph'>`, Tether's or another tool's
/// (Nova's), since its secret UUID is this node's business whoever wrote it; an iSCSI disk is any
/// `<source protocol='iscsi'>` with CHAP (`<auth>` with a `<secret type='iscsi'>`), for the same
/// reason. A network disk without a secret names nothing node-local and is not the hook's.
enum DomainDisk: Sendable, Hashable {
    case kernel(KernelDisk)
    case rbd(RBDDisk)
    case iscsi(ISCSIDisk)

    struct KernelDisk: Sendable, Hashable {
        /// The guest device (`vdb`), for messages.
        var target: String
        var volumeID: String
    }

    struct RBDDisk: Sendable, Hashable {
        var target: String
        /// `pool/image`.
        var name: String
        /// The monitors the XML names (`<host name port>`); may be empty when only a conf names them.
        var hosts: [Portal]
        var user: String?
        var secret: SecretReference?
        var configFile: String?
    }

    struct ISCSIDisk: Sendable, Hashable {
        var target: String
        /// The source's `name` as the XML gives it (`IQN/LUN`), for messages.
        var name: String
        var iqn: String
        /// nil when the name's LUN is not a number 0-65535 (libvirt reads no `/` as LUN 0).
        var lun: Int?
        var user: String?
        var secret: SecretReference?
    }

    /// How a `<secret>` element names its libvirt secret.
    enum SecretReference: Sendable, Hashable {
        case uuid(String)
        case usage(String)
    }

    var target: String {
        switch self {
        case .kernel(let disk): disk.target
        case .rbd(let disk): disk.target
        case .iscsi(let disk): disk.target
        }
    }
}
