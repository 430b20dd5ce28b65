extension Host {
    /// Waits until `check` returns a value: checks once, then again on every udev event of
    /// `subsystems` and at least every `recheck`, until `timeout` passes.
    ///
    /// Listening starts before the first check, so an event between the check and the wait is not
    /// lost; the periodic recheck covers hosts where udevd does not run (the kernel still makes the
    /// sysfs nodes). Waits never sleep a fixed time.
    public func waitFor<Value: Sendable>(
        _ what: String,
        subsystems: [String],
        timeout: Duration,
        recheck: Duration = .milliseconds(500),
        _ check: @escaping @Sendable () async throws -> Value?
    ) async throws -> Value {
        let events = try await deviceEvents(subsystems: subsystems)
        if let value = try await check() { return value }
        let wakeups = AsyncStream<Bool>.makeStream()
        let clock = self.clock
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in events { wakeups.continuation.yield(false) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await clock.sleep(for: recheck)
                    wakeups.continuation.yield(false)
                }
            }
            group.addTask {
                try await clock.sleep(for: timeout)
                wakeups.continuation.yield(true)
            }
            defer {
                group.cancelAll()
                wakeups.continuation.finish()
            }
            for await expired in wakeups.stream {
                if let value = try await check() { return value }
                if expired { break }
            }
            throw TetherError.timedOut(what, after: timeout)
        }
    }
}
