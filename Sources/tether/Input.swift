import TetherAPI
import TetherCore

/// The CLI's own parsing uses the agent's grammars (TetherAPI/Validation): a bad argument is
/// refused as the agent would refuse it (`invalid_input`, exit 2), naming it, and nothing is sent.
enum Input {
    static func volume(_ text: String, _ argument: String, _ global: GlobalOptions) throws {
        try global.check { try IdentifierGrammar.volumeID.check(text, field: FieldPath(argument)) }
    }

    static func reference(_ text: String, _ global: GlobalOptions) throws {
        try global.check { try IdentifierGrammar.reference.check(text, field: "REF") }
    }

    static func cluster(_ text: String, _ argument: String, _ global: GlobalOptions) throws {
        try global.check { try IdentifierGrammar.clusterName.check(text, field: FieldPath(argument)) }
    }

    static func initiator(_ text: String?, _ global: GlobalOptions) throws {
        guard let text else { return }
        try global.check { try ISCSINameGrammar.check(text, field: "--initiator", what: "an initiator name") }
    }
}
