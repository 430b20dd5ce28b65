import TetherTesting
import Testing

/// The real peers an integration suite runs against. Pair it with `.enabled(if: Lab.runs(...))`
/// for the same peers: on a laptop without them the suite is skipped; under CI=true it runs,
/// and this trait fails it before its first test with the peers that are missing. After a suite
/// ran, one line says with which peers, so a CI log shows what was really exercised.
struct LabTrait: SuiteTrait, TestScoping {
    let peers: [Lab.Peer]

    var isRecursive: Bool { false }

    /// Once around the whole suite, not around each test.
    func scopeProvider(for test: Test, testCase: Test.Case?) -> LabTrait? {
        test.isSuite ? self : nil
    }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let missing = Lab.missing(peers)
        guard missing.isEmpty else {
            throw LabPeerMissing(suite: test.name, peers: missing)
        }
        defer { print("lab: \(test.name) ran with \(peers.map { "\($0.name) \($0.version)" }.joined(separator: ", "))") }
        try await function()
    }
}

struct LabPeerMissing: Error, CustomStringConvertible {
    let suite: String
    let peers: [Lab.Peer]

    var description: String {
        "\(suite): peer \(peers.map(\.name).joined(separator: ", ")) missing under CI=true; install it (scripts/packages.sh install test)"
    }
}

extension Trait where Self == LabTrait {
    /// The suite needs these real peers; see `LabTrait`.
    static func lab(_ peers: Lab.Peer...) -> LabTrait { LabTrait(peers: peers) }
}
