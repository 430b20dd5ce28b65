/// Runs `body`, and fails with `timed_out` if it has not finished within `limit` on `clock`.
///
/// The body is cancelled when the deadline passes; bodies that block in C must bound themselves
/// (libiscsi calls carry their own deadline) and this is the backstop.
public func withTimeout<Result: Sendable>(
    _ limit: Duration,
    clock: any Clock<Duration>,
    _ what: @autoclosure () -> String,
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let description = what()
    return try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await clock.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw TetherError.timedOut(description, after: limit)
        }
        return result
    }
}
