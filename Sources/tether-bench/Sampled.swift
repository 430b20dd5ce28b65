/// The timed samples of one side of one row (warm-ups left out), and the CPU that side's own
/// process spent on them.
struct Sampled: Sendable {
    var samples: [Duration]
    /// CPU (user + system) of the process doing the work, over all samples.
    var cpu: Duration?
    /// Operations the CPU figure covers (an attach+detach cycle counts as one).
    var operations: Int

    init(_ samples: [Duration], cpu: Duration? = nil, operations: Int? = nil) {
        self.samples = samples
        self.cpu = cpu
        self.operations = operations ?? samples.count
    }

    var median: Duration { Self.quantile(samples, 0.5) }
    var p99: Duration { Self.quantile(samples, 0.99) }
    var cpuPerOperation: Duration? { cpu.map { $0 / max(1, operations) } }

    /// The nearest-rank quantile (the median of an even count is its upper middle).
    static func quantile(_ samples: [Duration], _ q: Double) -> Duration {
        guard !samples.isEmpty else { return .zero }
        let sorted = samples.sorted()
        if q == 0.5 { return sorted[sorted.count / 2] }
        let rank = Int((Double(sorted.count) * q).rounded(.up)) - 1
        return sorted[min(sorted.count - 1, max(0, rank))]
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    static func milliseconds(_ value: Double) -> Duration {
        .nanoseconds(Int64((value * 1e6).rounded()))
    }
}
