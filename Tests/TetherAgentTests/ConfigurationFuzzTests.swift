import TetherAgent
import TetherCore
import Testing

/// Configuration files the fuzz harness (scripts/fuzz.sh config) showed could crash the agent.
@Suite struct ConfigurationFuzzTests {
    /// TOML floats reach Int conversions (inf, nan, huge), and huge integers overflowed where
    /// libiscsi gets milliseconds (a trap at the first attach): refused past a day.
    @Test(arguments: ["inf", "+inf", "nan", "1e300", "9.3e15", "1.7976931348623157e308", "9223372036854775807", "86401", "86400.5"])
    func timeoutsOutOfRangeAreRefused(value: String) throws {
        for key in ["[iscsi]\nconnect_timeout", "[iscsi]\nlogin_timeout", "[ceph]\nconnect_timeout"] {
            let error = #expect(throws: ConfigurationError.self) {
                try AgentConfiguration.parse("\(key) = \(value)\n", file: "tether.toml")
            }
            #expect(error?.message.contains("a positive number of seconds, at most 86400") == true)
        }
    }

    @Test func aDayIsTheLongestTimeout() throws {
        let configuration = try AgentConfiguration.parse("[iscsi]\nconnect_timeout = 86400\n[ceph]\nconnect_timeout = 86400.0\n", file: "tether.toml")
        #expect(configuration.iscsiTimeouts.connect == .seconds(86400))
        #expect(configuration.cephConnectTimeout == .seconds(86400))
    }

    @Test func fractionalTimeoutsStillRead() throws {
        let configuration = try AgentConfiguration.parse("[iscsi]\nconnect_timeout = 0.25\n", file: "tether.toml")
        #expect(configuration.iscsiTimeouts.connect == .milliseconds(250))
    }
}
