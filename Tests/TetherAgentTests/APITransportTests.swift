import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
@testable import TetherAgent
import TetherAPI
import TetherCore
import Testing

/// The peer check's decision, the `[api]` table, and how the agent answers transport errors.
@Suite struct APIAccessTests {
    static let group: UInt32 = 990
    static let access = APIAccess(group: group, groupName: "tether")

    @Test(arguments: [
        (PeerCredentials(pid: 10, uid: 0, gid: 0), nil, APIAccess.Verdict.root),
        (PeerCredentials(pid: 10, uid: 0, gid: 5), [5], .root),
        (PeerCredentials(pid: 11, uid: 1000, gid: group), nil, .primaryGroup),
        (PeerCredentials(pid: 12, uid: 1000, gid: 1000), [1000, 27, group], .member),
        (PeerCredentials(pid: 13, uid: 1000, gid: 1000), [1000, 27], .refused),
        (PeerCredentials(pid: 14, uid: 65534, gid: 65534), nil, .refused),
        (PeerCredentials(pid: 15, uid: 65534, gid: 65534), [], .refused),
    ] as [(PeerCredentials, [UInt32]?, APIAccess.Verdict)])
    func verdict(peer: PeerCredentials, userGroups: [UInt32]?, expected: APIAccess.Verdict) {
        #expect(Self.access.verdict(for: peer, userGroups: userGroups) == expected)
        #expect(Self.access.verdict(for: peer, userGroups: userGroups).allowed == (expected != .refused))
    }

    @Test func onlyPeersNotSettledByTheirCredentialsNeedTheGroupDatabase() {
        #expect(!Self.access.needsUserGroups(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        #expect(!Self.access.needsUserGroups(PeerCredentials(pid: 1, uid: 1000, gid: Self.group)))
        #expect(Self.access.needsUserGroups(PeerCredentials(pid: 1, uid: 1000, gid: 1000)))
    }

    @Test func rootGroupAllowsOnlyRootAndGroupZero() {
        let rootOnly = APIAccess(group: 0, groupName: "root")
        #expect(rootOnly.verdict(for: PeerCredentials(pid: 1, uid: 1000, gid: 1000), userGroups: [1000]) == .refused)
        #expect(rootOnly.verdict(for: PeerCredentials(pid: 1, uid: 0, gid: 0)) == .root)
    }

    @Test func groupResolution() throws {
        let groups: [String: UInt32] = ["tether": 990, "storage": 991]
        #expect(try APIAccess.resolve(configured: "storage", lookUp: { groups[$0] }) == APIAccess(group: 991, groupName: "storage"))
        #expect(try APIAccess.resolve(configured: nil, lookUp: { groups[$0] }) == APIAccess(group: 990, groupName: "tether"))
        #expect(try APIAccess.resolve(configured: nil, lookUp: { _ in nil }) == APIAccess(group: 0, groupName: "root"))
        let error = #expect(throws: TetherError.self) { try APIAccess.resolve(configured: "nope", lookUp: { groups[$0] }) }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains("nope") == true)
    }

    @Test func peerCredentialsHaveTheLayoutOfStructUcred() {
        // getsockopt(SO_PEERCRED) fills it directly: pid_t, uid_t, gid_t.
        #expect(MemoryLayout<PeerCredentials>.size == 12)
        #expect(MemoryLayout<PeerCredentials>.offset(of: \.uid) == 4)
        #expect(MemoryLayout<PeerCredentials>.offset(of: \.gid) == 8)
    }

    @Test func apiTable() throws {
        let configuration = try AgentConfiguration.parse("[api]\ngroup = \"storage\"\nidle_timeout = 5", file: "t.toml")
        #expect(configuration.api.group == "storage")
        #expect(configuration.api.idleTimeout == .seconds(5))
        let defaults = try AgentConfiguration.parse("", file: "t.toml")
        #expect(defaults.api.group == nil)
        #expect(defaults.api.idleTimeout == .seconds(30))
        let error = #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse("[api]\ngroups = \"x\"", file: "t.toml") }
        #expect(error?.description.contains("[api] groups") == true)
        #expect(throws: ConfigurationError.self) { try AgentConfiguration.parse("[api]\nidle_timeout = 0", file: "t.toml") }
    }
}

@Suite struct HTTPErrorTests {
    @Test(arguments: [
        (TetherError.Code.bodyTooLarge, 413), (.unsupportedMediaType, 415), (.requestTimedOut, 408), (.invalidInput, 400),
    ] as [(TetherError.Code, Int)])
    func transportCodesAreInvalidInputWithTheirOwnStatus(code: TetherError.Code, status: Int) {
        #expect(code.httpStatus == status)
        #expect(code.kind == .invalidInput)
        #expect(code.exitCode == 2)
    }

    @Test(arguments: [
        ("application/json", true), ("application/json; charset=utf-8", true), ("Application/JSON", true),
        (" application/json ;charset=UTF-8", true), ("text/plain", false), ("application/jsonx", false),
        ("application/x-www-form-urlencoded", false), ("", false),
    ])
    func contentType(value: String, json: Bool) {
        #expect(JSONBody.isJSON(value) == json)
    }

    @Test func missingContentTypeIsNotJSON() {
        #expect(!JSONBody.isJSON(nil))
    }

    /// Log lines a handler wrote, for tests.
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: String { lines.withLock { $0.joined() } }
        var logger: Logger {
            Logger(label: "test") { _ in LogfmtLogHandler(label: "test", level: .trace) { line in self.lines.withLock { $0.append(line) } } }
        }
    }

    @Test func unexpectedErrorIsA500WithAnIdInTheAnswerAndTheLog() throws {
        struct Surprise: Error {}
        let log = Lines()
        let answer = ErrorMiddleware<BasicRequestContext>.translate(Surprise(), method: "GET", path: "/v1/health", logger: log.logger)
        let failure = try #require(answer as? InternalFailure)
        #expect(failure.id.count == 12)
        #expect(failure.id.allSatisfy { $0.isHexDigit })
        #expect(failure.status == .internalServerError)
        #expect(log.all.contains("error_id=\(failure.id)"))
        #expect(log.all.contains("Surprise"))
        let body = try JSONDecoder().decode(ErrorBody.self, from: try JSONBody.encode(ErrorBody(failure.error, id: failure.id)))
        #expect(body.error.code == "internal")
        #expect(body.error.id == failure.id)
        #expect(body.error.hint?.contains(failure.id) == true)
        // Ids differ per failure, so each log line can be found from its answer.
        #expect(InternalFailure().id != InternalFailure().id)
    }

    @Test func internalHTTPErrorsGetAnIdToo() throws {
        let log = Lines()
        let answer = ErrorMiddleware<BasicRequestContext>.translate(HTTPError(.internalServerError), method: "GET", path: "/", logger: log.logger)
        #expect(answer is InternalFailure)
    }

    @Test(arguments: [
        (HTTPError(.contentTooLarge) as any Error, TetherError.Code.bodyTooLarge),
        (NIOTooManyBytesError(maxBytes: 1 << 20), .bodyTooLarge),
        (HTTPError(.notFound), .notFound),
        (HTTPError(.methodNotAllowed), .invalidInput),
        (HTTPError(.unsupportedMediaType), .unsupportedMediaType),
        (HTTPParserError.invalidChunkSize, .invalidInput),
        (HTTPParserError.headerOverflow, .invalidInput),
        (TetherError(.conflict, "busy"), .conflict),
    ] as [(any Error, TetherError.Code)])
    func knownErrorsKeepAClientStatus(error: any Error, code: TetherError.Code) throws {
        let answer = ErrorMiddleware<BasicRequestContext>.translate(error, method: "POST", path: "/v1/attachments", logger: Lines().logger)
        let translated = try #require(answer as? TetherError)
        #expect(translated.code == code)
    }

    @Test func decoderErrorsAreFramingErrors() {
        #expect(HTTPFramingHandler.framingError(HTTPParserError.invalidEOFState)?.code == .invalidInput)
        #expect(HTTPFramingHandler.framingError(HTTPParserError.headerOverflow)?.message.contains("headers") == true)
        #expect(HTTPFramingHandler.framingError(TetherError(.conflict, "x")) == nil)
    }

    @Test func bodyLimitIsOneMebibyte() {
        #expect(JSONBody.maximumSize == 1_048_576)
        #expect(JSONBody.tooLarge().code.httpStatus == 413)
    }
}

/// JSONBody's checks before and while it reads, on in-memory requests.
@Suite struct JSONBodyTests {
    static func request(_ headers: HTTPFields, body: RequestBody) -> Request {
        Request(head: HTTPRequest(method: .post, scheme: nil, authority: "localhost", path: "/v1/attachments", headerFields: headers), body: body)
    }

    static func code(of request: Request, deadline: Duration = .seconds(5)) async -> TetherError.Code? {
        let error = await #expect(throws: TetherError.self) { _ = try await JSONBody.body(of: request, what: "the test body", deadline: deadline) }
        return error?.code
    }

    @Test func declaredLengthOverTheLimitIsRefusedUnread() async {
        // The stream would fail the test if read: the length alone decides.
        let unread = AsyncStream<ByteBuffer>(unfolding: {
            Issue.record("the body was read")
            return nil
        })
        let request = Self.request([.contentType: "application/json", .contentLength: "\((1 << 20) + 1)"], body: RequestBody(asyncSequence: unread))
        #expect(await Self.code(of: request) == .bodyTooLarge)
    }

    @Test func chunkedBodyOverTheLimitIsTooLarge() async {
        let chunks = AsyncStream<ByteBuffer> { continuation in
            for _ in 0..<17 { continuation.yield(ByteBuffer(repeating: 0x20, count: 64 << 10)) }
            continuation.finish()
        }
        let request = Self.request([.contentType: "application/json", .transferEncoding: "chunked"], body: RequestBody(asyncSequence: chunks))
        #expect(await Self.code(of: request) == .bodyTooLarge)
    }

    @Test func bodyThatStopsArrivingTimesOut() async {
        // One chunk, then nothing, the stream left open.
        let stalled = AsyncStream<ByteBuffer> { continuation in continuation.yield(ByteBuffer(string: "{\"conn")) }
        let request = Self.request([.contentType: "application/json", .contentLength: "100"], body: RequestBody(asyncSequence: stalled))
        // The stream never ends: only the deadline can produce this answer (no wall-clock bound
        // here: on a loaded 2-core machine the scheduler alone took seconds).
        #expect(await Self.code(of: request, deadline: .milliseconds(200)) == .requestTimedOut)
    }

    @Test(arguments: [nil, "text/plain", "application/xml"] as [String?])
    func bodyThatIsNotJSONIsUnsupportedMediaType(contentType: String?) async {
        var headers: HTTPFields = [.contentLength: "2"]
        if let contentType { headers[.contentType] = contentType }
        #expect(await Self.code(of: Self.request(headers, body: RequestBody(buffer: ByteBuffer(string: "{}")))) == .unsupportedMediaType)
    }

    @Test func missingBodyIsInvalidInput() async {
        let request = Self.request([.contentType: "application/json"], body: RequestBody(buffer: ByteBuffer()))
        #expect(await Self.code(of: request) == .invalidInput)
    }

    @Test func bodyWithinTheLimitIsRead() async throws {
        let request = Self.request(
            [.contentType: "application/json; charset=utf-8", .contentLength: "2"], body: RequestBody(buffer: ByteBuffer(string: "{}")))
        #expect(try await JSONBody.body(of: request, what: "the test body") == Array("{}".utf8))
    }
}
