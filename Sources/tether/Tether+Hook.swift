import ArgumentParser
import Foundation
import TetherAPI
import TetherClient
import TetherCore

extension Tether {
    struct Hook: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hooks for other programs (libvirt).", subcommands: [Qemu.self])
    }
}

extension Tether.Hook {
    /// Run by libvirtd as /etc/libvirt/hooks/qemu.d/tether: argv `DOMAIN OPERATION SUB-OPERATION
    /// EXTRA`, the domain XML on stdin. It only talks to tetherd; it never runs virsh and this
    /// binary does not link libvirt, so libvirtd waiting on it cannot deadlock.
    struct Qemu: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The libvirt qemu hook: tetherd acts on the domain's Tether disks.",
            discussion: """
                prepare begin attaches the domain's kernel-mode Tether disks (source \
                /dev/disk/by-tether/VOLUME); release end detaches those the hook attached; \
                migrate begin and restore begin print the domain XML with this node's Ceph secret \
                UUIDs (nothing when nothing changes: libvirt then keeps its XML); reconnect begin \
                only checks. Every other call exits 0 at once. A failure prints one line on stderr \
                and exits non-zero; the whole call ends within --timeout seconds.
                """)

        static let defaultTimeoutSeconds: Int64 = 5

        @Option(help: ArgumentHelp("tetherd's unix socket (default: $TETHER_SOCKET, else \(TetherAgentClient.defaultSocketPath)).", valueName: "path"))
        var socket: String?

        @Option(help: ArgumentHelp("Seconds the whole call may take, 1-600 (default: $TETHER_HOOK_TIMEOUT, else \(defaultTimeoutSeconds)).", valueName: "seconds"))
        var timeout: String?

        @Argument(help: "The domain name.") var domain: String
        @Argument(help: "libvirt's operation (prepare, release, migrate, ...).") var operation: String
        @Argument(help: "libvirt's sub-operation (begin, end, ...).") var subOperation: String
        @Argument(parsing: .captureForPassthrough, help: "libvirt's extra argument(s), unused.") var extra: [String] = []

        func run() async throws {
            guard let action = QemuHookAction(operation: operation, subOperation: subOperation) else { return }
            let seconds: Int64
            do {
                let text = timeout ?? ProcessInfo.processInfo.environment["TETHER_HOOK_TIMEOUT"].flatMap { $0.isEmpty ? nil : $0 } ?? "\(Self.defaultTimeoutSeconds)"
                seconds = try NumberGrammar.check(.string(text), field: "--timeout", range: 1...600, what: "the hook's timeout")
            } catch let error as TetherError {
                throw Self.fail(error)
            }
            Self.arm(seconds: seconds, action: action, domain: domain)
            let xml = try Self.readStandardInput()
            let request = QemuHookRequest(domain: domain, action: action, xml: xml)
            let socketPath = socket ?? ProcessInfo.processInfo.environment["TETHER_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? TetherAgentClient.defaultSocketPath
            let client = TetherAgentClient(socketPath: socketPath, timeout: .seconds(seconds))
            do {
                try request.validate()
                let response = try await client.send(.qemuHook(request))
                if action.filtersXML, let xml = response.xml {
                    FileHandle.standardOutput.write(Data(xml.utf8))
                }
            } catch var error as TetherError {
                if error.code == .timedOut {
                    error.hint = "tetherd may still finish: see tether list; a longer bound is TETHER_HOOK_TIMEOUT in /etc/libvirt/hooks/tether.conf"
                }
                throw Self.fail(error)
            } catch {
                throw Self.fail(TetherError(.internalError, "\(error)"))
            }
        }

        /// The backstop of the bound, whatever blocks (stdin, a connect, tetherd): libvirtd waits on
        /// this process. The exchange with tetherd has the bound as its own deadline; this fires a
        /// second later only when something else held the call up.
        static func arm(seconds: Int64, action: QemuHookAction, domain: String) {
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(seconds) + 1)) {
                let line = "tether hook: \(action.rawValue) of domain \(domain): no answer from tetherd within \(seconds) s (set TETHER_HOOK_TIMEOUT for a longer bound)\n"
                FileHandle.standardError.write(Data(line.utf8))
                Foundation.exit(TetherError.Code.timedOut.exitCode)
            }
        }

        /// libvirt's domain XML, refused past the API's limit before it is all read.
        static func readStandardInput() throws -> String {
            var data = Data()
            while let chunk = try FileHandle.standardInput.read(upToCount: 65536), !chunk.isEmpty {
                data.append(chunk)
                if data.count > QemuHookRequest.maximumXMLBytes {
                    throw fail(TetherError.invalidField("xml", "the domain XML on stdin is over \(QemuHookRequest.maximumXMLBytes) bytes", hint: "check what calls the hook"))
                }
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw fail(TetherError.invalidField("xml", "the domain XML on stdin is not UTF-8", hint: "pass the XML libvirt gives the hook, unchanged"))
            }
            return text
        }

        /// One line on stderr, which libvirt shows the user, and the code's exit status.
        static func fail(_ error: TetherError) -> ExitCode {
            var line = "tether hook: \(error.message)"
            if let hint = error.hint { line += " (\(hint))" }
            FileHandle.standardError.write(Data((line.replacingOccurrences(of: "\n", with: " ") + "\n").utf8))
            return ExitCode(error.code.exitCode)
        }
    }
}
