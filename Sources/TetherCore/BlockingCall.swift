import Foundation

/// Runs `body`, which blocks (a socket exchange, a C library call), on a thread of its own and
/// awaits its result.
///
/// Not `DispatchQueue.global()`: on Linux its pool grows only to about one thread per core and
/// adds more slowly when they block, so sixteen blocking calls at once ran about three at a
/// time on this two-core machine (tgtd exchanges in tetherd, the test client's requests). A
/// thread costs tens of microseconds to start, next to the milliseconds such a call takes.
public func blockingCall<Value: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = name
        thread.start()
    }
}

/// `blockingCall` for a body that cannot fail.
public func blockingCall<Value: Sendable>(_ name: String, _ body: @escaping @Sendable () -> Value) async -> Value {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = name
        thread.start()
    }
}
