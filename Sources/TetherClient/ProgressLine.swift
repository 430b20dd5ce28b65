/// The line `tether` shows on a terminal while tetherd works: what it waits for, a spinner and the
/// seconds so far ("⠹ attaching vol-1 (login, udev)… 3s"), redrawn in place and erased when the
/// answer comes, so nothing of it stays in the scrollback.
///
/// Only for people: the caller shows it only when stderr is a terminal and `--json` is off, and
/// only a wait longer than `delay` shows it at all.
public struct ProgressLine: Sendable {
    /// Waits shorter than this show nothing: most answers come sooner, and a flash is noise.
    public static let delay: Duration = .seconds(1)
    static let tick: Duration = .milliseconds(250)
    static let frames: [String] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
    /// Back to the start of the line and erase it (ECMA-48 CR, EL).
    public static let clear = "\r\u{1B}[K"

    public var activity: String
    /// Writes to the terminal (stderr); called from one task at a time.
    public var write: @Sendable (String) -> Void

    public init(_ activity: String, write: @escaping @Sendable (String) -> Void) {
        self.activity = activity
        self.write = write
    }

    /// The line after `elapsed`, at spinner frame `frame`, drawn over the previous one.
    public static func text(_ activity: String, elapsed: Duration, frame: Int) -> String {
        "\(clear)\(frames[frame % frames.count]) \(activity)… \(elapsed.components.seconds)s"
    }

    /// Runs `body`, showing the line from `delay` on until `body` returns or throws, then erases it.
    public func showing<Value>(_ body: () async throws -> Value) async throws -> Value {
        let outcome: Result<Value, any Error> = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.draw() }
            let outcome: Result<Value, any Error>
            do {
                outcome = .success(try await body())
            } catch {
                outcome = .failure(error)
            }
            group.cancelAll()
            if await group.next() == true {
                write(Self.clear)
            }
            return outcome
        }
        return try outcome.get()
    }

    /// Redraws the line every tick after `delay` until cancelled; true when it drew anything.
    private func draw() async -> Bool {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await clock.sleep(for: Self.delay)
        } catch {
            return false
        }
        var frame = 0
        // Task.sleep throws only on cancellation: the answer came.
        repeat {
            write(Self.text(activity, elapsed: start.duration(to: clock.now), frame: frame))
            frame += 1
        } while (try? await clock.sleep(for: Self.tick)) != nil
        return true
    }
}
