// The agent's routes and services are internal: this target needs the debug build's
// -enable-testing (scripts/fuzz.sh builds debug), and is a stub in a release build.
#if DEBUG
import Foundation
import FuzzSupport
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import TetherAPI
@testable import TetherAgent
import TetherCore
import TetherTesting

/// The agent's HTTP request path without a socket: the input is a request line and a body,
///
///     POST /v1/attachments?force=true
///     {"connection_info": ...}
///
/// handed to the agent's own router (`Routes`) with its real services over an in-memory journal
/// and fake peers (scripted connectors and exporter, `FakeHost`, no Cinder, no libvirt), so no
/// input reaches the machine or the network. A crash is a finding, and so is a 500 (every input
/// must answer a TetherError's status, never "internal"), and so is an answer whose status or
/// body docs/openapi.json does not document.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = [UInt8](Data(fuzzInput: data, size))
    let split = bytes.firstIndex(of: 0x0a) ?? bytes.endIndex
    let line = String(decoding: bytes[..<split], as: UTF8.self)
    let body = split < bytes.endIndex ? Array(bytes[(split + 1)...]) : []
    let parts = line.split(separator: " ", maxSplits: 1)
    guard parts.count == 2, let method = HTTPRequest.Method(String(parts[0])) else { return 0 }
    let head = HTTPRequest(method: method, scheme: "http", authority: "localhost", path: String(parts[1]))

    let (status, answer, path, contentType) = InProcessAgent.shared.respond(to: head, body: body)
    if verbose { print("\(status.code) \(line)\n    \(String(decoding: answer.prefix(300), as: UTF8.self))") }
    fuzzCheck(status != .internalServerError, "\(line) answered 500")

    // The answer is the one docs/openapi.json documents: its status, and a body of its schema
    // (or the error body, for a route the agent does not serve).
    // The path as Hummingbird parsed it (and routed it), not as the fuzzer wrote it.
    let operation = OpenAPI.document.operation(method: method.rawValue, target: path)
    if contentType?.hasPrefix("text/plain") == true {
        fuzzCheck(operation?.path == "/v1/metrics" && status == .ok, "\(line) answered \(status.code) in text")
        return 0
    }
    guard let json = try? JSONDecoder().decode(JSONValue.self, from: Data(answer)) else {
        fuzzCheck(false, "\(line) answered \(status.code) with a body that is not JSON")
        return 0
    }
    let problems: [String]
    if let operation {
        problems = OpenAPI.document.problems(answer: json, status: status.code, of: operation)
    } else {
        problems = status.code >= 400 ? OpenAPI.document.problems(errorBody: json) : ["an undocumented route answered \(status.code)"]
    }
    fuzzCheck(problems.isEmpty, "\(line) answered \(status.code) outside docs/openapi.json: \(problems)")
    return 0
}

enum OpenAPI {
    static let document: OpenAPIDocument = {
        do { return try OpenAPIDocument.repository() } catch { fatalError("cannot read docs/openapi.json: \(error)") }
    }()
}

/// TETHER_FUZZ_VERBOSE=1 prints each request line with the answer's status and body (to check a
/// corpus reaches the handlers it is meant for).
let verbose = ProcessInfo.processInfo.environment["TETHER_FUZZ_VERBOSE"] == "1"

/// The agent's router and services, built once per process.
final class InProcessAgent: @unchecked Sendable {  // immutable after init; the responder is Sendable
    static let shared = InProcessAgent()

    let responder: RouterResponder<BasicRequestContext>
    let logger: Logger

    private init() {
        let logger = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
        self.logger = logger
        responder = Self.blocking {
            let journal = try Journal()
            let locks = VolumeLocks()
            let stats = OperationStats()
            let host = FakeHost()
            let node = ConnectorProperties(initiator: "iqn.2026-12.io.tether:fuzz", host: "fuzz", ip: "127.0.0.1")
            let connectors: [any Connector] = [
                ScriptedConnector(driverVolumeTypes: ["iscsi", "iser", "rbd"], mode: .network),
                ScriptedConnector(driverVolumeTypes: ["iscsi", "iser", "rbd"], mode: .kernel),
            ]
            let attachments = AttachmentService(journal: journal, locks: locks, connectors: connectors, node: node, stats: stats, logger: logger)
            let exports = ExportService(
                journal: journal, locks: locks, exporter: RecordingExporter(portals: [Portal(host: "127.0.0.1", port: 3260)]), host: host,
                iqnPrefix: "iqn.2026-12.io.tether", stats: stats, logger: logger)
            // The registry writes through the host but lists its directory on the real filesystem
            // (LocalFileInspector): a path that does not exist keeps it empty, so clusters added
            // here are written to FakeHost and never listed back (add answers not_found).
            let clusters = try await ClusterService(
                directory: "/nonexistent/tether-fuzz/etc/tether", cephDirectory: "/nonexistent/tether-fuzz/etc/ceph", secretStore: nil, host: host,
                logger: logger)
            let local = LocalAttachService(journal: journal, locks: locks, attachments: attachments, cinder: nil, node: node, stats: stats, logger: logger)
            let router = Router(context: BasicRequestContext.self)
            let reconciler = Reconciler(attachments: attachments, interval: nil, heal: true, logger: logger)
            // The doctor reads only the FakeHost: every check answers from its empty tree.
            let doctor = Doctor(
                configuration: AgentConfiguration(), host: host, node: node, access: APIAccess(group: 0, groupName: "root"),
                registry: { await clusters.current }, journal: journal)
            Routes(
                attachments: attachments, exports: exports, clusters: clusters, localAttachments: local,
                connections: ConnectService(journal: journal, locks: locks, attachments: attachments, settings: nil, node: node, logger: logger),
                reconciler: reconciler, journal: journal, node: node,
                stats: stats, doctor: doctor,
                hooks: HookService(attachments: attachments, journal: journal, clusters: clusters, cephDirectory: "/nonexistent/tether-fuzz/etc/ceph", logger: logger)
            ).register(on: router)
            return router.buildResponder()
        }
    }

    /// The status, body and content type the agent answers, and the path Hummingbird parsed; a
    /// thrown error is a 500 as Hummingbird's server makes it.
    func respond(to head: HTTPRequest, body: [UInt8]) -> (HTTPResponse.Status, [UInt8], path: String, contentType: String?) {
        let responder = responder
        let logger = logger
        return Self.blocking {
            let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
            let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: NIOAsyncTestingChannel(), logger: logger))
            // The router answers TetherError (and every HTTPResponseError) itself; what it throws
            // is what Hummingbird's server would answer 500.
            do {
                let response = try await responder.respond(to: request, context: context)
                let collector = BodyCollector()
                try await response.body.write(collector)
                return (response.status, collector.bytes.bytes, request.uri.path, response.headers[.contentType])
            } catch {
                return (.internalServerError, Array("thrown: \(error)".utf8), request.uri.path, nil)
            }
        }
    }

    /// libFuzzer calls in synchronously; the agent is async.
    static func blocking<Value: Sendable>(_ work: @escaping @Sendable () async throws -> Value) -> Value {
        let box = ResultBox<Value>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        switch box.result {
        case .success(let value)?: return value
        case .failure(let error)?: fatalError("the in-process agent failed: \(error)")
        case nil: fatalError("the in-process agent gave no result")
        }
    }
}

/// Keeps an answer's body.
struct BodyCollector: ResponseBodyWriter {
    final class Bytes: @unchecked Sendable {  // one request's task writes, then the same task reads
        var bytes: [UInt8] = []
    }
    let bytes = Bytes()

    mutating func write(_ buffer: ByteBuffer) async throws { bytes.bytes += buffer.readableBytesView }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// Written by one task before the semaphore is signalled, read after the wait: never at once.
private final class ResultBox<Value>: @unchecked Sendable {
    var result: Result<Value, any Error>?
}

@main struct Main {
    static func main() { FuzzMain.run(fuzzRequest) }
}
#else
import Foundation

@main struct Main {
    static func main() {
        FileHandle.standardError.write(Data("FuzzRequest needs a debug build (scripts/fuzz.sh)\n".utf8))
        exit(64)
    }
}
#endif
