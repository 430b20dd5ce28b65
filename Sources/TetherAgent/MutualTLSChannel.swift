import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOSSL
import ServiceLifecycle
import TetherAPI
import TetherCore
import UnixSignals
import X509

/// A TCP connection of the TLS listener: TLS first (a handshake that needs a client certificate
/// signed by the configured CA; plaintext and any other certificate end the connection there),
/// then the same HTTP/1.1 channel, routes and framing as the unix socket, with the role check
/// in place of the socket's peer-credential check.
struct MutualTLSChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let contexts: TLSContextStore

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // The context of this moment: a SIGHUP swaps it for the connections that follow.
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: contexts.context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }

    var responder: HTTPChannelHandler.Responder { base.responder }
}

extension Agent {
    /// The TLS listener (`[api.tcp]`) on the same router as the unix socket, and its SIGHUP
    /// reloader, whose trap is set before this returns: a SIGHUP once the listener serves
    /// reloads, never kills the agent.
    static func tlsListener(
        _ contexts: TLSContextStore, router: Router<BasicRequestContext>, idleTimeout: Duration, logger: Logger
    ) async -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let settings = contexts.settings
        let listener = Application(
            router: router, server: tlsServer(contexts: contexts, idleTimeout: idleTimeout, logger: logger),
            configuration: .init(
                address: .hostname(settings.host, port: settings.port), serverName: "tetherd",
                availableConnectionsDelegate: MaximumAvailableConnections(maximumConnections, logger: logger)),
            onServerRunning: { channel in
                logger.info("serving TLS", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "\(settings.host):\(settings.port)")"])
            }, logger: logger)
        return [
            .init(service: listener),
            // Ends when shutdown begins; the listeners end on their own.
            .init(service: TLSReloader(contexts: contexts, signals: await UnixSignalsSequence(trapping: .sighup)), successTerminationBehavior: .ignore),
        ]
    }

    /// The TLS listener's server: `MutualTLSChannel` around the unix socket's HTTP/1.1 settings,
    /// with the role check where the socket has its peer-credential check.
    static func tlsServer(contexts: TLSContextStore, idleTimeout: Duration, logger: Logger) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            MutualTLSChannel(
                base: HTTP1Channel(
                    responder: responder,
                    configuration: .init(
                        additionalChannelHandlers: [ClientRoleHandler(roles: contexts.settings.roles, logger: logger), HTTPFramingHandler(logger: logger)],
                        idleTimeout: .milliseconds(Int64(idleTimeout / .milliseconds(1))),
                        httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 << 10, maxHeaderListSize: 32 << 10, maxHeaderFieldCount: 100))),
                contexts: contexts)
        }
    }
}

/// Reloads the TLS listener's certificates and key on SIGHUP (tether.toml is not read again).
struct TLSReloader: Service {
    let contexts: TLSContextStore
    let signals: UnixSignalsSequence

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            await contexts.reload()
        }
    }
}

/// The names a client certificate goes by: its subject's common name, then its DNS and URI
/// subject alternative names. `[api.tcp]` grants roles to these names.
enum CertificateNames {
    static func of(_ certificate: NIOSSLCertificate) -> [String] {
        guard let parsed = try? Certificate(derEncoded: try certificate.toDERBytes()) else {
            // BoringSSL verified this certificate: one swift-certificates cannot parse has no
            // names Tether can match, and so no role.
            return []
        }
        var names: [String] = []
        for rdn in parsed.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                if let name = String(attribute.value) { names.append(name) }
            }
        }
        // A malformed SAN extension: the certificate is known by its subject alone.
        let alternatives: SubjectAlternativeNames? = (try? parsed.extensions.subjectAlternativeNames) ?? nil
        for name in alternatives.map(Array.init) ?? [] {
            switch name {
            case .dnsName(let text), .uniformResourceIdentifier(let text): names.append(text)
            default: break
            }
        }
        return names
    }
}

/// Decides each request on a TLS connection by the client certificate's roles: allowed requests
/// go on to the routes; any other is answered 403 with Tether's error body once its body is
/// read, and the connection is closed. Also logs refused handshakes, once, with the reason.
///
/// Lives on one channel's event loop, after the HTTP decoder (NIO handlers are not Sendable).
final class ClientRoleHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let roles: ClientRoles
    private let logger: Logger
    /// The client's names and roles, read from its certificate at the first request.
    private var client: (names: [String], roles: Set<APIRole>)?
    /// A refused request whose body is still arriving; answered at its end.
    private var refusal: TetherError?
    private var closed = false

    init(roles: ClientRoles, logger: Logger) {
        self.roles = roles
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        switch unwrapInboundIn(data) {
        case .head(var request):
            let client = identify(context)
            let required = APIRole.required(method: request.method.rawValue, path: request.path ?? "")
            guard ClientRoles.allows(client.roles, required) else {
                refusal = Self.refusal(names: client.names, held: client.roles, required: required, request: request)
                logger.warning(
                    "API request refused: role", metadata: ["client": "\(client.names)", "roles": "\(client.roles.map(\.rawValue).sorted())", "needs": "\(required.rawValue)", "method": "\(request.method.rawValue)", "path": "\(request.path ?? "")"])
                return
            }
            if required != .reader {
                // Who changed what on this node from afar: one line per remote change.
                logger.info(
                    "API request from a TLS client", metadata: ["client": "\(client.names)", "method": "\(request.method.rawValue)", "path": "\(request.path ?? "")"])
            }
            // Who asked, for the routes (fencing and forced attaches log it): the certificate's
            // names, replacing whatever the client sent under that header.
            request.headerFields[APIPeer.header] = APIPeer.value(certificateNames: client.names)
            context.fireChannelRead(wrapInboundOut(.head(request)))
        case .body:
            if refusal == nil { context.fireChannelRead(data) }
        case .end:
            guard let refusal else {
                context.fireChannelRead(data)
                return
            }
            answer(context, refusal)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let failure = error as? NIOSSLError, case .handshakeFailed(_) = failure {
            logger.notice("TLS handshake refused", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
        } else if error is BoringSSLError || error is NIOSSLError {
            logger.notice("TLS connection failed", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
        }
        context.fireErrorCaught(error)
    }

    private func identify(_ context: ChannelHandlerContext) -> (names: [String], roles: Set<APIRole>) {
        if let client { return client }
        // The handshake required and verified a certificate before any request could arrive.
        let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
        let names = certificate.map { CertificateNames.of($0) } ?? []
        let identified = (names, roles.roles(of: names))
        client = identified
        return identified
    }

    static func refusal(names: [String], held: Set<APIRole>, required: APIRole, request: HTTPRequest) -> TetherError {
        let who = names.isEmpty ? "a certificate without a CN or DNS/URI name" : "certificate \(names.joined(separator: ", "))"
        let has = held.isEmpty ? "no role" : "role \(held.map(\.rawValue).sorted().joined(separator: ", "))"
        return TetherError(
            .apiRoleDenied, "\(request.method.rawValue) \(request.path ?? "") needs role \(required.rawValue); \(who) has \(has)",
            hint: "grant it in the agent's tether.toml: add the name to [api.tcp] \(required.configurationKey) (or admins), then restart tetherd")
    }

    private func answer(_ context: ChannelHandlerContext, _ error: TetherError) {
        closed = true
        refusal = nil
        // ErrorBody encodes plain strings and codes: it cannot fail.
        let body = (try? JSONEncoder().encode(ErrorBody(error))) ?? Data()
        var head = HTTPResponse(status: .init(code: error.code.httpStatus))
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = "\(body.count)"
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(ByteBuffer(bytes: body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
