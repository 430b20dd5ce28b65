import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TetherCore

/// How `tether` reaches an agent: its unix socket, or a remote agent's TLS listener.
public protocol AgentTransport: Sendable {
    /// The deadline of one exchange, connecting to the last byte of the answer.
    var timeout: Duration { get }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

extension UnixHTTPClient: AgentTransport {}

/// A remote agent's address and this client's identity: `--agent https://HOST:PORT` with
/// `--cert`, `--key` (mode 0600) and `--ca`.
public struct RemoteAgent: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var certificateFile: String
    public var keyFile: String
    public var caFile: String

    /// - Throws: `invalid_input` naming the option when the URL is not `https://HOST[:PORT]`.
    public init(url: String, certificateFile: String, keyFile: String, caFile: String) throws {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "https", let host = components.host, !host.isEmpty,
            components.path.isEmpty || components.path == "/", components.query == nil, components.user == nil
        else {
            throw TetherError.invalidInput(
                "--agent \"\(url)\" is not https://HOST:PORT", hint: "give the remote agent's TLS listener, e.g. --agent https://storage-1:8443 (TETHER_AGENT)")
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 8443
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
    }

    public var url: String { host.contains(":") ? "https://[\(host)]:\(port)" : "https://\(host):\(port)" }
}

/// HTTP/1.1 over mutual TLS to a remote agent: one connection per request, as `UnixHTTPClient`.
/// The agent's certificate must chain to `caFile` and name the host (DNS or IP SAN) dialled.
public struct TLSHTTPClient: AgentTransport {
    public var agent: RemoteAgent
    public var timeout: Duration

    public init(agent: RemoteAgent, timeout: Duration = UnixHTTPClient.defaultTimeout) {
        self.agent = agent
        self.timeout = timeout
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let context = try makeContext()
        return try await withThrowingTaskGroup(of: HTTPResponse?.self) { group in
            group.addTask { try await exchange(request, context: context) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else {
                throw TetherError(
                    .timedOut, "tetherd at \(agent.url) did not answer within \(UnixHTTPClient.seconds(timeout))",
                    hint: "the operation may still be running there; check with `tether --agent \(agent.url) list` before retrying")
            }
            return response
        }
    }

    private func exchange(_ request: HTTPRequest, context: NIOSSLContext) async throws -> HTTPResponse {
        let serverName = agent.host
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(Int64(timeout / .milliseconds(1))))
                .connect(host: agent.host, port: agent.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // An IP address is checked against the certificate's IP SANs; SNI carries names only.
                        let sni = Self.isIPAddress(serverName) ? nil : serverName
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: sni))
                        return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw TetherError(.agentUnavailable, "cannot reach tetherd at \(agent.url): \(error)", hint: "check the address and that its [api.tcp] listener is on")
        }
        // Whether the request went out whole: a connection that ends before that ended in (or
        // right after) the handshake, which is where the agent refuses a certificate.
        let sent = ManagedAtomicFlag()
        do {
            return try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: request.serialized()))
                sent.set()
                var received: [UInt8] = []
                for try await chunk in inbound {
                    received += chunk.readableBytesView
                    guard received.count <= UnixHTTPClient.maximumResponseSize else {
                        throw TetherError(.internalError, "tetherd at \(agent.url) sent more than \(UnixHTTPClient.maximumResponseSize) bytes")
                    }
                    if let response = try HTTPResponse.parse(received, atEnd: false) { return response }
                }
                if let response = try HTTPResponse.parse(received, atEnd: true) { return response }
                throw Self.closedWithoutAnswer(agent)
            }
        } catch let error as TetherError {
            throw error
        } catch {
            if !sent.isSet { throw Self.refused(error, agent: agent) }
            if error is NIOSSLError || error is BoringSSLError || error is ChannelError { throw Self.closedWithoutAnswer(agent) }
            throw TetherError(.agentUnavailable, "lost the connection to tetherd at \(agent.url): \(error)", hint: "check that it still runs and the network between")
        }
    }

    /// After the request went out: a refused certificate (TLS 1.3 tells the client only then)
    /// or an agent that stopped mid-operation.
    static func closedWithoutAnswer(_ agent: RemoteAgent) -> TetherError {
        TetherError(
            .agentUnavailable, "tetherd at \(agent.url) closed the connection without answering",
            hint: "its log says why: `TLS handshake refused` (check --cert and --ca), or it stopped mid-operation (check with `tether --agent \(agent.url) list` before retrying)")
    }

    static func refused(_ error: any Error, agent: RemoteAgent) -> TetherError {
        TetherError(
            .agentDenied, "the TLS handshake with tetherd at \(agent.url) failed: \(error)",
            hint: "check that --ca signed the agent's certificate (and names \(agent.host)), and that the agent's [api.tcp] ca signed --cert; an expired certificate fails here too")
    }

    private func makeContext() throws -> NIOSSLContext {
        try Self.checkKeyMode(agent.keyFile)
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        let authorities: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(agent.certificateFile)
        } catch {
            throw TetherError.invalidInput("--cert \(agent.certificateFile) is not a readable PEM certificate: \(error)", hint: "give this client's certificate (TETHER_CERT)")
        }
        do {
            key = try NIOSSLPrivateKey(file: agent.keyFile, format: .pem)
        } catch {
            throw TetherError.invalidInput("--key \(agent.keyFile) is not a readable PEM private key", hint: "give the unencrypted key of --cert (TETHER_KEY)")
        }
        do {
            authorities = try NIOSSLCertificate.fromPEMFile(agent.caFile)
        } catch {
            throw TetherError.invalidInput("--ca \(agent.caFile) is not a readable PEM certificate: \(error)", hint: "give the CA that signed the agent's certificate (TETHER_CA)")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateChain = chain.map { .certificate($0) }
        configuration.privateKey = .privateKey(key)
        configuration.trustRoots = .certificates(authorities)
        configuration.certificateVerification = .fullVerification
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TetherError.invalidInput("--cert and --key do not make a usable TLS identity: \(error)", hint: "check that --key is the private key of --cert")
        }
    }

    /// The client's private key, like the agent's, must be its owner's alone.
    static func checkKeyMode(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw TetherError.invalidInput("--key \(path) cannot be read: \(UnixHTTPClient.errorText(errno))", hint: "give this client's private key (TETHER_KEY)")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw TetherError.invalidInput(
                "--key \(path) has mode \(String(info.st_mode & 0o7777, radix: 8)): group or others may read it; tether refuses it", hint: "chmod 600 \(path)")
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

/// A flag set once, read after: the exchange's closure and its error handler run on one task in
/// turn, the lock only satisfies Sendable.
final class ManagedAtomicFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
