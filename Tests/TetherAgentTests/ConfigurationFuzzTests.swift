import TetherAgent
import TetherCore
import Testing

/// Configuration files the fuzz harness (scripts/fuzz.sh config) showed could crash the agent.
@Suite struct ConfigurationFuzzTests {
    /// TOML floats reach Int conversions: inf, nan and huge values are refused, not trapped on.
    @Test(arguments: ["inf", "+inf", "nan", "1e300", "9.3e15", "1.7976931348623157e308"])
    func timeoutsOutOfRangeAreRefused(value: String) throws {
        for key in ["[iscsi]\nconnect_timeout", "[iscsi]\nlogin_timeout", "[ceph]\nconnect_timeout"] {
            let error = #expect(throws: ConfigurationError.self) {
                try AgentConfiguration.parse("\(key) = \(value)\n", file: "tether.toml")
            }
            #expect(error?.message.contains("a positive number of seconds") == true)
        }
    }

    @Test func fractionalTimeoutsStillRead() throws {
        let configuration = try AgentConfiguration.parse("[iscsi]\nconnect_timeout = 0.25\n", file: "tether.toml")
        #expect(configuration.iscsiTimeouts.connect == .milliseconds(250))
    }
}
