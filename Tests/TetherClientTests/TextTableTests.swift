import Testing

@testable import TetherClient

@Suite struct TextTableTests {
    @Test func columnsAlignUnderTheHeader() {
        let table = TextTable.render(header: ["ID", "VOLUME", "STATE"], rows: [["a1", "vol-long-name", "attached"], ["b", "v", "-"]])
        #expect(
            table == """
                ID  VOLUME         STATE
                a1  vol-long-name  attached
                b   v              -
                """)
    }

    @Test func headerAloneForNoRows() {
        #expect(TextTable.render(header: ["A", "B"], rows: []) == "A  B")
    }

    @Test func fieldsAlignTheirValues() {
        let text = TextTable.fields([("ID", "a1"), ("Volume", "v1"), ("Paths", "one\ntwo")])
        #expect(
            text == """
                ID:     a1
                Volume: v1
                Paths:  one
                        two
                """)
    }
}
