import ArgumentParser
import TetherAPI
import TetherCore

/// The CLI's own parsing uses the agent's grammars (TetherAPI/Validation): a bad argument is a
/// usage error (exit 64) that names it, and nothing is sent.
enum Input {
    static func check(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as TetherError {
            throw ValidationError(error.hint.map { "\(error.message); \($0)" } ?? error.message)
        }
    }

    static func volume(_ text: String, _ argument: String) throws {
        try check { try IdentifierGrammar.volumeID.check(text, field: FieldPath(argument)) }
    }

    static func reference(_ text: String) throws {
        try check { try IdentifierGrammar.reference.check(text, field: "REF") }
    }

    static func cluster(_ text: String, _ argument: String) throws {
        try check { try IdentifierGrammar.clusterName.check(text, field: FieldPath(argument)) }
    }

    static func initiator(_ text: String?) throws {
        guard let text else { return }
        try check { try ISCSINameGrammar.check(text, field: "--initiator", what: "an initiator name") }
    }
}
