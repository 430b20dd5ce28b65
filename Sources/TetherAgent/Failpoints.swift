import Foundation
import Logging
import TetherCore

/// The failpoints armed for this run (`TETHER_FAILPOINTS=name=crash,name=error`); none by default.
/// Services call `hit(_:)` at each journaled step; unarmed, that is one check of an empty table.
public struct Failpoints: Sendable {
    /// The environment variable tetherd reads them from.
    public static let variable = "TETHER_FAILPOINTS"

    public enum Action: String, Sendable, CaseIterable {
        /// Die at once, as SIGKILL: no clean-up, nothing written beyond what is committed.
        case crash
        /// Make the step fail with a TetherError (`internal`), so the operation's own roll-back runs.
        case error
        /// Wait `pauseDuration` there, then go on: a test breaks something (a link) meanwhile.
        case pause
    }

    /// How long `pause` waits: long enough for a test that watches the log for it to act, on a
    /// loaded two-core machine too (5 s was once missed in CI).
    public static let pauseDuration: Duration = .seconds(15)

    public let armed: [Failpoint: Action]
    /// Kills the process; in production it does not return. Tests pass one that records and
    /// returns, and `hit` then throws `Crashed` so nothing after the point runs.
    let crash: @Sendable (Failpoint) -> Void
    let logger: Logger?

    /// None armed.
    public init() {
        self.init(armed: [:], crash: { _ in })
    }

    public init(armed: [Failpoint: Action], logger: Logger? = nil, crash: @escaping @Sendable (Failpoint) -> Void) {
        self.armed = armed
        self.logger = logger
        self.crash = crash
    }

    /// Thrown by `hit` when the crash closure returned (only in tests).
    public struct Crashed: Error, Sendable, Equatable {
        public let failpoint: Failpoint
    }

    /// Crashes or fails when `point` is armed; otherwise returns at once.
    @inline(__always)
    public func hit(_ point: Failpoint) throws {
        guard !armed.isEmpty, let action = armed[point] else { return }
        try fire(point, action)
    }

    private func fire(_ point: Failpoint, _ action: Action) throws {
        switch action {
        case .crash:
            logger?.critical("failpoint reached: crashing", metadata: ["failpoint": "\(point.rawValue)"])
            crash(point)
            throw Crashed(failpoint: point)
        case .error:
            logger?.warning("failpoint reached: failing the step", metadata: ["failpoint": "\(point.rawValue)"])
            throw TetherError(.internalError, "failpoint \(point.rawValue) failed this step", hint: "unset \(Self.variable)")
        case .pause:
            // Only `reach` pauses (it can sleep without holding a thread); a synchronous hit goes on.
            return
        }
    }

    /// `hit`, and for a `pause` failpoint a sleep of `pauseDuration` before the step goes on.
    public func reach(_ point: Failpoint) async throws {
        guard !armed.isEmpty, let action = armed[point] else { return }
        guard action == .pause else { return try fire(point, action) }
        logger?.warning("failpoint reached: pausing", metadata: ["failpoint": "\(point.rawValue)", "for": "\(Self.pauseDuration)"])
        try await Task.sleep(for: Self.pauseDuration)
    }

    /// Reads `name=action,name=action` (spaces around items allowed; empty or unset: none).
    /// - Throws: `invalid_input` naming the variable and the item it cannot use.
    public static func parse(_ text: String?) throws -> [Failpoint: Action] {
        var armed: [Failpoint: Action] = [:]
        for item in (text ?? "").split(separator: ",") {
            let item = item.trimmingCharacters(in: .whitespaces)
            if item.isEmpty { continue }
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else {
                throw TetherError.invalidInput("\(variable): \"\(item)\" is not NAME=ACTION", hint: "e.g. \(variable)=attach.journaled=crash")
            }
            guard let point = Failpoint(rawValue: parts[0]) else {
                throw TetherError.invalidInput(
                    "\(variable): unknown failpoint \"\(parts[0])\"", hint: "known: \(Failpoint.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let action = Action(rawValue: parts[1]) else {
                throw TetherError.invalidInput(
                    "\(variable): unknown action \"\(parts[1])\" for \(point.rawValue)", hint: "use \(Action.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            if let earlier = armed[point], earlier != action {
                throw TetherError.invalidInput("\(variable): \(point.rawValue) is armed twice, as \(earlier.rawValue) and \(action.rawValue)")
            }
            armed[point] = action
        }
        return armed
    }

    /// `name=action,...` in the order of `Failpoint.allCases`, for the start-up warning.
    public static func describe(_ armed: [Failpoint: Action]) -> String {
        Failpoint.allCases.compactMap { point in armed[point].map { "\(point.rawValue)=\($0.rawValue)" } }.joined(separator: ",")
    }
}
