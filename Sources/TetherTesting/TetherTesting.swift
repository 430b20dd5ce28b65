// Both halves of the test support, for targets that use both (integration tests, benches,
// fuzzers). Unit test targets depend on TetherFakes alone: in-process fakes, no root, no peers.
@_exported import TetherFakes
@_exported import TetherLabs
