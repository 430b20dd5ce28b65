import Logging
import NIOSSL
import Synchronization
import TetherCore

/// The TLS listener's certificate, key and client CA, read through the Host seam into one
/// NIOSSLContext: mutual TLS, TLS 1.2 or later, a client certificate required and verified
/// against the CA (no host name check: clients are named by their roles, not their addresses).
enum TLSCredentials {
    /// - Throws: `invalid_input` naming the file and what is wrong with it: missing, not PEM, a
    ///   private key group or others may read, a key that does not match the certificate.
    static func context(_ settings: TCPListenerSettings, host: any TetherCore.Host) async throws -> NIOSSLContext {
        try await checkKeyMode(settings.keyFile, host: host)
        let chain = try await certificates(settings.certificateFile, key: "cert", host: host)
        let authorities = try await certificates(settings.caFile, key: "ca", host: host)
        let keyText = try await read(settings.keyFile, key: "key", host: host)
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: Array(keyText.utf8), format: .pem)
        } catch {
            // The parser's error only: the file's bytes are a secret.
            throw TetherError.invalidInput(
                "\(settings.keyFile) ([api.tcp] key) is not a PEM private key (\(type(of: error)))",
                hint: "give the PEM file of the key that belongs to [api.tcp] cert, unencrypted, mode 0600")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(authorities)
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TetherError.invalidInput(
                "the TLS listener cannot use \(settings.certificateFile) with \(settings.keyFile): \(error)",
                hint: "check that [api.tcp] key is the private key of [api.tcp] cert")
        }
    }

    /// A private key only its owner may read: mode 0600 or 0400, refused when wider.
    static func checkKeyMode(_ path: String, host: any TetherCore.Host, setting: String = "[api.tcp] key") async throws {
        guard let status = try await host.fileStatus(path) else {
            throw TetherError.invalidInput("the TLS private key \(path) (\(setting)) does not exist", hint: "create it, or correct \(setting) in tether.toml")
        }
        guard status.kind == .regular else {
            throw TetherError.invalidInput("the TLS private key \(path) (\(setting)) is not a regular file", hint: "point \(setting) at the PEM file")
        }
        guard status.mode & 0o077 == 0 else {
            throw TetherError.invalidInput(
                "the TLS private key \(path) (\(setting)) has mode \(String(status.mode, radix: 8)): group or others may read it; tetherd refuses it",
                hint: "chmod 600 \(path)")
        }
    }

    private static func certificates(_ path: String, key: String, host: any TetherCore.Host) async throws -> [NIOSSLCertificate] {
        let text = try await read(path, key: key, host: host)
        let parsed: [NIOSSLCertificate]
        do {
            parsed = try NIOSSLCertificate.fromPEMBytes(Array(text.utf8))
        } catch {
            parsed = []
        }
        guard !parsed.isEmpty else {
            throw TetherError.invalidInput("\(path) ([api.tcp] \(key)) holds no PEM certificate", hint: "give a file with -----BEGIN CERTIFICATE----- blocks")
        }
        return parsed
    }

    private static func read(_ path: String, key: String, host: any TetherCore.Host) async throws -> String {
        do {
            return try await host.read(path)
        } catch {
            throw TetherError.invalidInput("cannot read \(path) ([api.tcp] \(key)): \(error)", hint: "check the path and that tetherd may read it")
        }
    }
}

/// The context new TLS connections use; SIGHUP replaces it (connections already open keep
/// theirs). NIOSSLContext is thread-safe and immutable: the mutex only guards the swap.
final class TLSContextStore: Sendable {
    private let current: Mutex<NIOSSLContext>
    let settings: TCPListenerSettings
    private let host: any TetherCore.Host
    private let logger: Logger

    init(settings: TCPListenerSettings, host: any TetherCore.Host, logger: Logger) async throws {
        self.settings = settings
        self.host = host
        self.logger = logger
        current = Mutex(try await TLSCredentials.context(settings, host: host))
    }

    var context: NIOSSLContext { current.withLock { $0 } }

    /// Reads the files again; on any problem the old context stays and the error is logged.
    /// - Returns: whether the new files are in use.
    @discardableResult
    func reload() async -> Bool {
        do {
            let fresh = try await TLSCredentials.context(settings, host: host)
            current.withLock { $0 = fresh }
            logger.notice("TLS certificates reloaded", metadata: ["cert": "\(settings.certificateFile)", "ca": "\(settings.caFile)"])
            return true
        } catch {
            logger.error(
                "TLS certificates not reloaded: the listener keeps the previous ones",
                metadata: ["error": "\(error)", "cert": "\(settings.certificateFile)", "key": "\(settings.keyFile)", "ca": "\(settings.caFile)"])
            return false
        }
    }
}
