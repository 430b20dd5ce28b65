import Foundation
import TetherCore
import TetherFakes

/// Certificates for the TLS listener's tests, made with Debian's openssl (P-256 keys) in a
/// private directory: CAs, certificates they sign (expired ones too), self-signed ones.
/// Private keys are written 0600, as tetherd and tether demand.
public struct TestPKI: Sendable {
    public let directory: TemporaryDirectory

    /// A certificate and its key, by path.
    public struct Identity: Sendable {
        public let certificate: String
        public let key: String
    }

    public init(directory: TemporaryDirectory) {
        self.directory = directory
    }

    /// A CA named `name`: `<name>.crt`, `<name>.key`.
    @discardableResult
    public func authority(_ name: String) throws -> Identity {
        try selfSigned(name, commonName: name)
    }

    /// A certificate for `commonName` signed by CA `authority`, valid `days` days (-1: expired
    /// yesterday), with `alternativeNames` as its SAN (`IP:127.0.0.1`, `DNS:compute-1`).
    public func issue(_ name: String, commonName: String, by authority: String, alternativeNames: [String] = [], days: Int = 2) throws -> Identity {
        let identity = paths(name)
        let request = directory.file("\(name).csr")
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", identity.key, "-out", request, "-subj", "/CN=\(commonName)",
        ])
        try restrict(identity.key)
        var arguments = [
            "x509", "-req", "-in", request, "-CA", paths(authority).certificate, "-CAkey", paths(authority).key, "-CAcreateserial",
            "-CAserial", directory.file("\(authority).srl"), "-days", "\(days)", "-out", identity.certificate,
        ]
        if !alternativeNames.isEmpty {
            let extensions = directory.file("\(name).ext")
            try "subjectAltName=\(alternativeNames.joined(separator: ","))\n".write(toFile: extensions, atomically: true, encoding: .utf8)
            arguments += ["-extfile", extensions]
        }
        try openssl(arguments)
        return identity
    }

    /// A self-signed certificate for `commonName`: a CA of its own, trusted by nobody until a
    /// configuration names it.
    @discardableResult
    public func selfSigned(_ name: String, commonName: String) throws -> Identity {
        let identity = paths(name)
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", identity.key, "-out", identity.certificate,
            "-subj", "/CN=\(commonName)", "-days", "2",
        ])
        try restrict(identity.key)
        return identity
    }

    public func paths(_ name: String) -> Identity {
        Identity(certificate: directory.file("\(name).crt"), key: directory.file("\(name).key"))
    }

    private func restrict(_ key: String) throws {
        guard chmod(key, 0o600) == 0 else { throw TetherError(.internalError, "chmod 600 \(key) failed: errno \(errno)") }
    }

    private func openssl(_ arguments: [String]) throws {
        let (status, output) = try Lab.run("openssl", arguments)
        guard status == 0 else { throw TetherError(.internalError, "openssl \(arguments.prefix(2).joined(separator: " ")) failed (\(status)): \(output)") }
    }
}
