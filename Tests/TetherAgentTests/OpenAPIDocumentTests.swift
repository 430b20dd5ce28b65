import Hummingbird
import Logging
import TetherAPI
@testable import TetherAgent
import TetherCeph
import TetherCore
import TetherFakes
import Testing

/// docs/openapi.json documents exactly the routes the agent registers, and is whole.
@Suite struct OpenAPIDocumentTests {
    /// The routes Routes.register adds, as "METHOD /v1/path/{param}".
    static func registeredRoutes() async throws -> Set<OpenAPIDocument.Operation> {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let journal = try Journal()
        let locks = VolumeLocks()
        let stats = OperationStats()
        let host = FakeHost()
        let node = ConnectorProperties(initiator: "iqn.test:node")
        // The registry lists its directory on the real filesystem: an empty one of the test's own.
        let directory = try TemporaryDirectory(prefix: "oas")
        defer { directory.remove() }
        let attachments = AttachmentService(journal: journal, locks: locks, connectors: [ScriptedConnector()], node: node, stats: stats, logger: logger)
        let clusters = try await ClusterService(directory: directory.path, cephDirectory: directory.file("ceph"), secretStore: nil, host: host, logger: logger)
        let routes = Routes(
            attachments: attachments,
            exports: ExportService(
                journal: journal, locks: locks, exporter: RecordingExporter(), host: host, iqnPrefix: "iqn.2026-11.io.tether", stats: stats, logger: logger),
            clusters: clusters,
            localAttachments: LocalAttachService(journal: journal, locks: locks, attachments: attachments, cinder: nil, node: node, stats: stats, logger: logger),
            connections: ConnectService(journal: journal, locks: locks, attachments: attachments, settings: nil, node: node, logger: logger),
            reconciler: Reconciler(attachments: attachments, interval: nil, heal: true, logger: logger), journal: journal, node: node, stats: stats,
            doctor: Doctor(
                configuration: AgentConfiguration(), host: host, node: node, access: APIAccess(group: 0, groupName: "root"), registry: { CephRegistry() },
                journal: journal),
            hooks: HookService(attachments: attachments, journal: journal, clusters: clusters, cephDirectory: directory.file("ceph"), logger: logger))
        let router = Router(context: BasicRequestContext.self)
        routes.register(on: router)
        return Set(router.routes.map { route in
            // Hummingbird writes parameters ":name"; OpenAPI writes "{name}".
            let path = "\(route.path)".split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            return OpenAPIDocument.Operation(method: route.method.rawValue, path: "/" + path.joined(separator: "/"))
        })
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        let document = try OpenAPIDocument.repository()
        let registered = try await Self.registeredRoutes()
        #expect(registered.count >= 22)
        let undocumented = registered.subtracting(document.operations).map(\.description).sorted()
        let unserved = document.operations.subtracting(registered).map(\.description).sorted()
        #expect(undocumented == [], "routes missing from docs/openapi.json")
        #expect(unserved == [], "docs/openapi.json documents routes the agent does not serve")
    }

    @Test func everyReferenceResolvesAndEveryOperationDocumentsItsErrors() throws {
        let document = try OpenAPIDocument.repository()
        #expect(document.danglingReferences == [])
        #expect(document.root["openapi"]?.stringValue?.hasPrefix("3.0") == true)
        for operation in document.operations {
            let responses = document.operation(operation)?["responses"]?.objectValue ?? [:]
            #expect(responses.keys.contains { $0.hasPrefix("2") }, "\(operation) documents no success")
            // Every route can fail with any error code's status; the failure is always the error body.
            #expect(responses["default"]?["$ref"] == "#/components/responses/Error", "\(operation) documents no error body")
            let parameters = (document.root["paths"]?[operation.path]?["parameters"]?.arrayValue ?? [])
                + (document.operation(operation)?["parameters"]?.arrayValue ?? [])
            let pathParameters = Set(parameters.filter { $0["in"] == "path" }.compactMap { $0["name"]?.stringValue })
            let inPath = Set(operation.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            #expect(pathParameters == inPath, "\(operation) path parameters")
        }
    }

    /// The validator the live test relies on refuses what it must.
    @Test func validatorRefusesAnswersThatBreakTheSchema() throws {
        let document = try OpenAPIDocument.repository()
        let health = OpenAPIDocument.Operation(method: "GET", path: "/v1/health")
        #expect(document.problems(answer: ["status": "ok", "version": "0.1.0", "attachments": 0, "exports": 0], status: 200, of: health) == [])
        #expect(document.problems(answer: ["status": "fine", "version": "0.1.0", "attachments": 0, "exports": 0], status: 200, of: health).count == 1)
        #expect(document.problems(answer: ["status": "ok", "version": "0.1.0", "attachments": "0", "exports": 0], status: 200, of: health).count == 1)
        #expect(document.problems(answer: ["status": "ok", "version": "0.1.0", "exports": 0, "extra": 1], status: 200, of: health).count == 2)
        let error: JSONValue = ["error": ["code": "not_found", "message": "no attachment x"]]
        #expect(document.problems(answer: error, status: 404, of: OpenAPIDocument.Operation(method: "GET", path: "/v1/attachments/{ref}")) == [])
        // "default" covers error statuses, never an unlisted success.
        #expect(document.problems(answer: error, status: 503, of: health) == [])
        #expect(document.problems(answer: error, status: 201, of: health) == ["GET /v1/health does not document status 201"])
        #expect(document.operation(method: "POST", target: "/v1/clusters/sync?x=1")?.path == "/v1/clusters/sync")
        #expect(document.operation(method: "DELETE", target: "/v1/clusters/sync")?.path == "/v1/clusters/{name}")
        #expect(document.operation(method: "PUT", target: "/v1/health") == nil)
    }
}
