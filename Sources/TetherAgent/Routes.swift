import Foundation
import Hummingbird
import TetherAPI
import TetherCore

/// The agent's HTTP API. Handlers only decode, call a service, and encode.
struct Routes {
    let attachments: AttachmentService
    let exports: ExportService
    let clusters: ClusterService
    let localAttachments: LocalAttachService
    let connections: ConnectService
    let reconciler: Reconciler
    let journal: Journal
    let node: ConnectorProperties
    let stats: OperationStats
    let doctor: Doctor
    let hooks: HookService

    func register(on router: Router<BasicRequestContext>) {
        router.middlewares.add(ErrorMiddleware())
        let v1 = router.group("v1")
        v1.get("health") { _, _ in try await self.health() }
        v1.get("metrics") { _, _ in try await self.metrics() }
        v1.get("connector") { _, _ in try JSONBody.response(self.node) }
        v1.post("reconcile") { request, _ in
            let body = try await JSONBody.decodeIfPresent(ReconcileRequest.self, from: request, what: "the reconcile request") ?? ReconcileRequest()
            return try JSONBody.response(try await self.reconciler.reconcile(heal: body.heal ?? self.reconciler.heal, clean: body.clean ?? false))
        }
        v1.get("doctor") { _, _ in try JSONBody.response(await self.doctor.run()) }

        v1.post("attachments") { request, _ in
            let body = try await JSONBody.decode(CreateAttachmentRequest.self, from: request, what: "the attachment request")
            try body.validate()
            let (record, created) = try await self.attachments.attach(body, peer: APIPeer.of(request))
            return try JSONBody.response(try Self.body(record), status: created ? .created : .ok)
        }
        v1.get("attachments") { _, _ in try await self.attachmentList() }
        v1.get("attachments/:ref") { _, context in
            try JSONBody.response(try Self.body(try await self.attachments.showChecked(try Self.parameter("ref", context))))
        }
        v1.post("attachments/:ref/extend") { _, context in
            try JSONBody.response(try Self.body(try await self.attachments.extend(try Self.parameter("ref", context))))
        }
        v1.delete("attachments/:ref") { request, context in
            let force = try Self.flag("force", request) ?? false
            let detached = try await self.attachments.detach(try Self.parameter("ref", context), force: force)
            return try JSONBody.response(DetachResponse(detached: detached))
        }

        v1.post("local-attachments") { request, _ in
            let body = try await JSONBody.decode(LocalAttachRequest.self, from: request, what: "the local-attach request")
            try body.validate()
            let (attached, created) = try await self.localAttachments.attach(body, peer: APIPeer.of(request))
            return try JSONBody.response(attached, status: created ? .created : .ok)
        }
        v1.get("local-attachments") { _, _ in
            try JSONBody.response(LocalAttachmentList(localAttachments: try await self.localAttachments.list()))
        }
        v1.get("local-attachments/:volume") { _, context in
            try JSONBody.response(try await self.localAttachments.show(try Self.parameter("volume", context)))
        }
        v1.delete("local-attachments/:volume") { request, context in
            let force = try Self.flag("force", request) ?? false
            let body = try await JSONBody.decodeIfPresent(LocalDetachRequest.self, from: request, what: "the local-detach request")
            try body?.validate()
            return try JSONBody.response(
                try await self.localAttachments.detach(volumeID: try Self.parameter("volume", context), force: force, auth: body?.auth))
        }
        v1.post("cinder/connections/:volume") { request, context in
            let multipath = try Self.flag("multipath", request)
            return try JSONBody.response(
                try await self.localAttachments.initializeConnection(volumeID: try Self.parameter("volume", context), multipath: multipath))
        }
        v1.delete("cinder/connections/:volume") { request, context in
            let multipath = try Self.flag("multipath", request)
            return try JSONBody.response(
                try await self.localAttachments.terminateConnection(volumeID: try Self.parameter("volume", context), multipath: multipath))
        }

        v1.post("connections") { request, _ in
            let body = try await JSONBody.decode(ConnectRequest.self, from: request, what: "the connect request")
            try body.validate()
            let (connected, created) = try await self.connections.connect(body)
            return try JSONBody.response(connected, status: created ? .created : .ok)
        }
        v1.get("connections") { _, _ in
            try JSONBody.response(ConnectionList(connections: try await self.connections.list()))
        }
        v1.get("connections/:volume") { _, context in
            try JSONBody.response(try await self.connections.show(try Self.parameter("volume", context)))
        }
        v1.delete("connections/:volume") { _, context in
            try JSONBody.response(try await self.connections.disconnect(volumeID: try Self.parameter("volume", context)))
        }

        v1.post("exports") { request, _ in
            let body = try await JSONBody.decode(CreateExportRequest.self, from: request, what: "the export request")
            try body.validate()
            let (response, created) = try await self.exports.create(body)
            return try JSONBody.response(response, status: created ? .created : .ok)
        }
        v1.get("exports") { _, _ in
            try JSONBody.response(ExportList(exports: try await self.exports.list()))
        }
        v1.get("clusters") { _, _ in try JSONBody.response(await self.clusters.list()) }
        v1.get("clusters/:name") { _, context in try JSONBody.response(try await self.clusters.show(try Self.parameter("name", context))) }
        v1.post("clusters") { request, _ in
            let body = try await JSONBody.decode(CreateClusterRequest.self, from: request, what: "the cluster")
            try body.validate()
            let (cluster, _) = try await self.clusters.add(body)
            return try JSONBody.response(cluster, status: .created)
        }
        v1.delete("clusters/:name") { _, context in
            try JSONBody.response(try await self.clusters.remove(try Self.parameter("name", context)))
        }
        v1.post("clusters/:name/fence") { request, context in
            let body = try await JSONBody.decode(FenceRequest.self, from: request, what: "the fence request")
            let address = try body.validate()
            return try JSONBody.response(try await self.clusters.fence(try Self.parameter("name", context), body, address: address, peer: APIPeer.of(request)))
        }
        v1.post("clusters/sync") { _, _ in
            try await self.clusters.reload()
            return try JSONBody.response(try await self.clusters.sync())
        }
        v1.post("hooks/qemu") { request, _ in
            let body = try await JSONBody.decode(QemuHookRequest.self, from: request, what: "the hook call")
            try body.validate()
            return try JSONBody.response(try await self.hooks.qemu(body))
        }
        v1.delete("exports/:volume") { request, context in
            let initiator = try request.uri.queryParameters.get("initiator").map {
                try ISCSINameGrammar.check($0, field: .queryParameter("initiator"), what: "an initiator name")
            }
            return try JSONBody.response(try await self.exports.delete(volumeID: try Self.parameter("volume", context), initiator: initiator))
        }
    }

    func health() async throws -> Response {
        let counts = try await journal.counts()
        let problems = await clusters.problems + (localAttachments.refusal.map { ["\($0)"] } ?? [])
        return try JSONBody.response(
            HealthBody(
                status: problems.isEmpty ? "ok" : "degraded", version: TetherVersion.current, attachments: counts.attachments,
                exports: counts.exports, problems: problems))
    }

    func metrics() async throws -> Response {
        let counts = try await journal.counts()
        let statuses = Dictionary(grouping: try await attachments.list().filter { $0.state == .attached }, by: \.health).mapValues(\.count)
        let text = stats.prometheus(
            attachments: counts.attachments, exports: counts.exports, statuses: statuses, orphans: reconciler.lastReport.map { $0.orphans.filter { !$0.removed }.count })
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// GET /v1/attachments: every attachment, looked at (`AttachmentService.listChecked`).
    func attachmentList() async throws -> Response {
        let cache = attachments.listCache
        let body = try await attachments.listBody { try Self.listBody($0, cache: cache) }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
    }

    /// The `AttachmentList` of `shown`, byte for byte as `JSONBody.encode` writes it, put
    /// together from each row's JSON (encoded again only when what it shows changed).
    static func listBody(_ shown: [AttachmentListCache.Shown], cache: AttachmentListCache) throws -> ByteBuffer {
        let parts = try cache.json(shown) { try JSONBody.encode(body($0), finalNewline: false) }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(parts.reduce(32) { $0 + $1.count + 1 })
        buffer.writeString(#"{"attachments":["#)
        for (index, part) in parts.enumerated() {
            if index > 0 { buffer.writeString(",") }
            buffer.writeBytes(part)
        }
        buffer.writeString("]}\n")
        return buffer
    }

    /// A boolean query parameter (true, false, 1, 0), nil when absent.
    static func flag(_ name: String, _ request: Request) throws -> Bool? {
        try FlagGrammar.check(request.uri.queryParameters.get(name), field: .queryParameter(name))
    }

    /// A path parameter, percent-decoded (Hummingbird decodes query values but not the path),
    /// then checked against its grammar: `{ref}` and `{volume}` are volume or attachment ids,
    /// `{name}` a cluster name.
    static func parameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        let grammar: IdentifierGrammar = switch name {
        case "ref": .reference
        case "name": .clusterName
        default: .volumeID
        }
        guard let decoded = raw.removingPercentEncoding else {
            throw TetherError.invalidField(.pathParameter(name), "is not valid percent-encoding", hint: "encode the value as RFC 3986 says")
        }
        return try grammar.check(decoded, field: .pathParameter(name))
    }

    static func body(_ record: AttachmentRecord) throws -> AttachmentBody {
        let attached = record.result
        return AttachmentBody(
            id: record.id, volumeID: record.volumeID, protocolName: record.protocolName, mode: record.mode,
            state: record.state.rawValue, target: record.targetKey, createdAt: record.createdAt, paths: attached?.paths ?? [], wwid: attached?.wwid,
            sizeBytes: attached?.sizeBytes, devicePath: attached?.devicePath, diskXML: attached?.diskXML,
            qemu: attached.map { AttachmentBody.QEMUBody(blockdev: $0.qemuBlockdev, objects: $0.qemuObjects) },
            details: try attached.flatMap { try wireDetails($0.handle) }, status: record.health, problems: record.problems,
            checkedAt: record.checkedAt, lastError: record.lastError)
    }

    /// The connector's handle as the API's `details` object (its kind included); none when the
    /// connector keeps nothing beyond the attachment's fields.
    static func wireDetails(_ handle: ConnectorHandle) throws -> JSONValue? {
        if case .none = handle { return nil }
        let json = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(handle))
        // Handles hold no secret; redacting anyway keeps a future field from leaking one.
        return Redaction.redact(json)
    }
}
