import Testing
import PostfixSyntax

struct PostfixListTests {
    @Test(arguments: [
        ("commas and white space separate", "a, b\tc\r\nd,,e", ["a", "b", "c", "d", "e"]),
        ("vertical tab and form feed do not separate", "a\u{0B}b\u{0C}c", ["a\u{0B}b\u{0C}c"]),
        ("a group is kept whole", "{ a b }, c", ["{ a b }", "c"]),
        ("a group inside an item", "x{a, b}y z", ["x{a, b}y", "z"]),
        ("groups nest", "{a {b c}} d", ["{a {b c}}", "d"]),
        ("a stray closing brace is text", "a}b c", ["a}b", "c"]),
        ("an open group runs to the end", "a {b c", ["a", "{b c"]),
        ("nothing but separators", " ,\t", []),
    ])
    func tokens(_ name: String, _ value: String, _ expected: [String]) {
        #expect(PostfixList.tokens(value) == expected, "\(name)")
    }
}
