import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import NIOPosix
import TetherCore

#if canImport(Glibc)
import Glibc
#endif

/// Who sent a request, as the routes see it: the peer check's credentials (unix socket) or the
/// role check's certificate names (TLS listener) in a header only those checks write. A request
/// that did not come through either (in-process tests, the fuzzer) has none: "unknown".
enum APIPeer {
    static let header = HTTPFields.Element.Name("x-tether-peer")!  // HTTPField, which Hummingbird does not export by name

    /// A random value of this process, first in the header: a value without it was not written by
    /// the peer check (a client's own on a listener that has no check) and names nobody.
    static let seal = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()

    static func value(_ peer: PeerCredentials) -> String { "\(seal) uid=\(peer.uid) gid=\(peer.gid) pid=\(peer.pid)" }

    /// A TLS client, by the names of its verified certificate (CN, DNS and URI SANs) that roles
    /// are granted to. Characters outside printable ASCII become `?`: a name is the CA's text,
    /// and a header value or log line must not be broken by it.
    static func value(certificateNames names: [String]) -> String {
        let printable = names.map { name in String(name.unicodeScalars.map { (0x20..<0x7f).contains($0.value) ? Character($0) : "?" }) }
        return "\(seal) tls=\(printable.isEmpty ? "(a certificate without names)" : printable.joined(separator: ","))"
    }

    static func of(_ request: Request) -> String {
        guard let value = request.headers[header], value.hasPrefix(seal + " ") else { return "unknown" }
        return String(value.dropFirst(seal.count + 1))
    }
}

/// Who may use the local API: root and the members of one group, all of them full admins of
/// the node (README.md, "Trust model").
public struct APIAccess: Sendable, Equatable {
    /// Why a peer was let in, or that it was not.
    public enum Verdict: Sendable, Equatable {
        case root
        /// The peer's effective group is the API group.
        case primaryGroup
        /// The group database lists the peer's user in the API group.
        case member
        case refused

        public var allowed: Bool { self != .refused }
    }

    /// The group the socket belongs to and whose members are allowed; gid 0 when it is root's.
    public var group: UInt32
    /// Its name, for logs and hints.
    public var groupName: String

    public init(group: UInt32, groupName: String) {
        self.group = group
        self.groupName = groupName
    }

    /// The group tetherd uses when `[api] group` is not set.
    public static let defaultGroupName = "tether"

    /// The decision for `peer`; `userGroups` are the groups the database gives the peer's uid
    /// (nil when it has no passwd entry), needed only when `needsUserGroups(peer)`.
    public func verdict(for peer: PeerCredentials, userGroups: [UInt32]? = nil) -> Verdict {
        if peer.uid == 0 { return .root }
        if peer.gid == group { return .primaryGroup }
        if userGroups?.contains(group) == true { return .member }
        return .refused
    }

    /// Whether the verdict depends on the group database (a lookup that may block).
    public func needsUserGroups(_ peer: PeerCredentials) -> Bool {
        peer.uid != 0 && peer.gid != group
    }

    /// The configured group, or `tether` when it exists, or root.
    /// - Throws: `invalid_input` when a configured group does not exist.
    public static func resolve(configured name: String?, lookUp: (String) -> UInt32? = { UnixGroups.id(ofGroup: $0) }) throws -> APIAccess {
        if let name {
            guard let gid = lookUp(name) else {
                throw TetherError.invalidInput(
                    "the API group \(name) ([api] group in tether.toml) does not exist",
                    hint: "create it (groupadd \(name)) or set [api] group to an existing group")
            }
            return APIAccess(group: gid, groupName: name)
        }
        if let gid = lookUp(defaultGroupName) { return APIAccess(group: gid, groupName: defaultGroupName) }
        return APIAccess(group: 0, groupName: "root")
    }
}

/// Checks each API connection's peer before anything is read from it: reads are held back until
/// the verdict, and a refused peer's connection is closed unread with one log line.
///
/// Lives on one channel's event loop (NIO handlers are not Sendable); the group database lookup,
/// which may block on NSS, runs on NIO's thread pool.
final class PeerCredentialHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        /// No verdict yet; whether a read was asked for meanwhile.
        case waiting(readPending: Bool)
        case allowed(PeerCredentials)
        case refused
    }

    private let access: APIAccess
    private let logger: Logger
    private let userGroups: @Sendable (UInt32) -> [UInt32]?
    private var state = State.waiting(readPending: false)
    private var checkStarted = false

    init(access: APIAccess, logger: Logger, userGroups: @escaping @Sendable (UInt32) -> [UInt32]? = { UnixGroups.groups(ofUser: $0) }) {
        self.access = access
        self.logger = logger
        self.userGroups = userGroups
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { check(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        check(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .allowed(let peer) = state else { return }
        // The routes learn who asked from this header, set here from SO_PEERCRED: whatever the
        // client sent under that name is replaced, so no client can speak for another.
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        head.headerFields[APIPeer.header] = APIPeer.value(peer)
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func read(context: ChannelHandlerContext) {
        switch state {
        case .allowed:
            context.read()
        case .waiting:
            state = .waiting(readPending: true)
        case .refused:
            break
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        guard !checkStarted else { return }
        checkStarted = true
        guard let provider = context.channel as? any SocketOptionProvider else {
            refuse(context, peer: nil, reason: "the connection has no socket credentials")
            return
        }
        // PeerCredentials has struct ucred's layout: getsockopt fills it directly.
        let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
        future.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let peer):
                self.decide(context, peer)
            case .failure(let error):
                self.refuse(context, peer: nil, reason: "SO_PEERCRED failed: \(error)")
            }
        }
    }

    private func decide(_ context: ChannelHandlerContext, _ peer: PeerCredentials) {
        guard access.needsUserGroups(peer) else {
            settle(context, peer, access.verdict(for: peer))
            return
        }
        let lookUp = userGroups
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { lookUp(peer.uid) }
            .assumeIsolated().whenComplete { result in
                switch result {
                case .success(let groups):
                    self.settle(context, peer, self.access.verdict(for: peer, userGroups: groups))
                case .failure(let error):
                    self.refuse(context, peer: peer, reason: "looking up the peer's groups failed: \(error)")
                }
            }
    }

    private func settle(_ context: ChannelHandlerContext, _ peer: PeerCredentials, _ verdict: APIAccess.Verdict) {
        guard verdict.allowed else {
            refuse(context, peer: peer, reason: "not root and not in group \(access.groupName)")
            return
        }
        guard case .waiting(let readPending) = state else { return }
        state = .allowed(peer)
        logger.trace("API peer allowed", metadata: ["pid": "\(peer.pid)", "uid": "\(peer.uid)", "verdict": "\(verdict)"])
        if readPending { context.read() }
    }

    private func refuse(_ context: ChannelHandlerContext, peer: PeerCredentials?, reason: String) {
        state = .refused
        var metadata: Logger.Metadata = ["reason": "\(reason)", "group": "\(access.groupName)"]
        if let peer {
            metadata["pid"] = "\(peer.pid)"
            metadata["uid"] = "\(peer.uid)"
            metadata["gid"] = "\(peer.gid)"
        }
        logger.warning("API connection refused", metadata: metadata)
        context.close(promise: nil)
    }
}
