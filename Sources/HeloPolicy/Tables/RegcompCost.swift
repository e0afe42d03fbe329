/// An estimate, made before `regcomp()` runs, of how much memory glibc's `regcomp()` will need
/// for a pattern, so that one `regexp:` table line cannot make heloguard allocate gigabytes.
///
/// glibc rewrites `X{n,m}` as n copies of `X` followed by m−n optional copies nested to the left
/// (`((X? X)? X)?`; `parse_dup_op` in its `regcomp.c`), `X+` as `X X*`, and then stores, for
/// every node of the expanded pattern, the set of nodes it reaches without reading a byte (its
/// epsilon closure). Long runs of optional parts and long alternations make those sets grow
/// with the square of the run: `a{1,4000}` takes about 130 MB, `a{1,32767}` 8 GB and 18 s,
/// `((a?){1,60}){1,60}` 1.7 GB, an alternation of 3,000 host names 260 MB (measured). Postfix
/// hands the same patterns to the same `regcomp()`.
///
/// The estimate follows glibc's expansion on a summary of each sub-pattern — its node count,
/// whether it can match the empty string, how many nodes its entry and its end reach without
/// reading — and adds up the closure sizes, plus 16 for each node (a node costs about as much
/// as 16 closure entries). Measured against `regcomp()`'s peak memory for 45 patterns from a few
/// hundred units to 250 million: 8 to 26 bytes a unit for every pattern above 400,000 units
/// (8 for a repeated character, 13 to 16 for repeated groups, 23 to 26 for alternations).
///
/// Time has a second cause. Nodes reached through an anchor (`^`, `$`, `\b` and the other GNU
/// anchors) carry its condition, and glibc works those out by following every path that reads
/// nothing from the anchor on, one by one. A part that can match empty gives several such paths,
/// and since `X+` is `X X*`, each `+` on it multiplies their number by itself plus one: `^a*+++`
/// has 42, `^a*++++` 1,806 (10 ms), `^a*+++++` 3.3 million (9 s), `^a*++++++` 10^13 (FuzzRegexp
/// found one: Fuzz/crashes/FuzzRegexp/anchored-paths, over five minutes). Paths through parts
/// in a row multiply as well (`^a*+++b*+++c*+++d*+++`: 3.1 million, 6 s). The estimate counts
/// those paths too. glibc follows fewer paths through a `?` or an alternation outside a loop
/// than this count says (`^((a?)?){22}` compiles in 10 ms), but every slow pattern measured was
/// counted above the limit, and the patterns people write stay far below it.
enum RegcompCost {
    /// Estimates above this are refused (a pattern at the limit takes `regcomp()` 16 to 50 MB,
    /// by its shape). Patterns people write are far below — the hostname pattern
    /// `^[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,126}$` is about 800,000 (11 MB), a 300-name
    /// alternation 190,000 — and compile in milliseconds.
    static let limit = 2_000_000

    /// Patterns whose anchors start more paths than this are refused: `regcomp()` spends 2 to
    /// 20 microseconds a path (measured: `^((a*)+){16}`, 65,536 paths, 1.3 s), so at the limit
    /// it takes under half a second. What people write has a handful (`^(www\.)?[a-z.]*$`: 2).
    static let pathLimit = 20_000

    /// What `regcomp()` would face: the estimate (at most `ceiling`; reading stops there, so it
    /// stays cheap for any input), the most paths that read nothing from its anchors (at most
    /// `ceiling`), and the longest run of repetition operators on one atom.
    struct Analysis {
        let cost: Int
        let anchoredPaths: Int
        let stackedRepetitions: Int
    }

    /// Reads `pattern` as an extended (ERE) or a basic (BRE) expression. The stacked operators
    /// are counted up to where reading stops, so past the ceiling the count may be short.
    static func analyze(_ pattern: [UInt8], extended: Bool, ceiling: Int = limit + 1) -> Analysis {
        var parser = Parser(pattern: pattern, extended: extended, ceiling: ceiling)
        let whole = parser.alternation(depth: 0)
        return Analysis(cost: Shape.add(whole.cost, Shape.multiply(whole.nodes, 16, ceiling), ceiling),
                        anchoredPaths: whole.anchorPeak, stackedRepetitions: parser.longestStack)
    }

    /// What the estimate keeps of a sub-pattern. `head`: the nodes its entry reaches without
    /// reading (all of them reached when it can match empty); `tail`: the nodes whose closure
    /// reaches its end; `cost`: the closure sizes of its nodes, counted inside it. `paths`: the
    /// paths from its entry to its end that read nothing (0 when it cannot match empty);
    /// `anchorPaths`: those from the anchors inside it to its end; `anchorPeak`: the most
    /// anchored paths at any point inside it.
    struct Shape {
        let nodes: Int
        let nullable: Bool
        let head: Int
        let tail: Int
        let cost: Int
        var paths = 1
        var anchorPaths = 0
        var anchorPeak = 0

        static let empty = Shape(nodes: 0, nullable: true, head: 0, tail: 0, cost: 0)
        /// A node that reads a byte: a character, `.`, a bracket expression, a back-reference.
        static let reading = Shape(nodes: 1, nullable: false, head: 1, tail: 0, cost: 1, paths: 0)
        /// A node that reads nothing: a group's open and close.
        static let silent = Shape(nodes: 1, nullable: true, head: 1, tail: 1, cost: 1)
        /// A node that reads nothing but sets a condition: an anchor.
        static let anchor = Shape(nodes: 1, nullable: true, head: 1, tail: 1, cost: 1,
                                  anchorPaths: 1, anchorPeak: 1)

        static func add(_ a: Int, _ b: Int, _ ceiling: Int) -> Int {
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? ceiling : min(sum, ceiling)
        }

        static func multiply(_ a: Int, _ b: Int, _ ceiling: Int) -> Int {
            let (product, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? ceiling : min(product, ceiling)
        }

        /// `a` then `b`: the nodes at `a`'s end also reach `b`'s entry.
        static func concatenation(_ a: Shape, _ b: Shape, _ ceiling: Int) -> Shape {
            let anchorPaths = add(multiply(a.anchorPaths, b.paths, ceiling), b.anchorPaths, ceiling)
            return Shape(nodes: add(a.nodes, b.nodes, ceiling),
                         nullable: a.nullable && b.nullable,
                         head: a.nullable ? add(a.head, b.head, ceiling) : a.head,
                         tail: b.nullable ? add(b.tail, a.tail, ceiling) : b.tail,
                         cost: add(add(a.cost, b.cost, ceiling), multiply(a.tail, b.head, ceiling), ceiling),
                         paths: multiply(a.paths, b.paths, ceiling), anchorPaths: anchorPaths,
                         anchorPeak: max(a.anchorPeak, b.anchorPeak, anchorPaths))
        }

        /// `a?` (glibc's OP_ALT with one branch): a node that reaches `a`'s entry and its own end.
        static func optional(_ a: Shape, _ ceiling: Int) -> Shape {
            let head = add(a.head, 1, ceiling)
            return Shape(nodes: add(a.nodes, 1, ceiling), nullable: true, head: head,
                         tail: add(a.tail, 1, ceiling), cost: add(a.cost, head, ceiling),
                         paths: add(a.paths, 1, ceiling), anchorPaths: a.anchorPaths, anchorPeak: a.anchorPeak)
        }

        /// `a*`: as `a?`, and `a`'s end loops back to the entry (so a path from an anchor inside
        /// goes round once more, or out).
        static func star(_ a: Shape, _ ceiling: Int) -> Shape {
            let loop = optional(a, ceiling)
            let anchorPaths = multiply(a.anchorPaths, loop.paths, ceiling)
            return Shape(nodes: loop.nodes, nullable: true, head: loop.head, tail: loop.tail,
                         cost: add(loop.cost, multiply(a.tail, loop.head, ceiling), ceiling),
                         paths: loop.paths, anchorPaths: anchorPaths, anchorPeak: max(a.anchorPeak, anchorPaths))
        }

        /// `a|b`: a node that reaches both entries.
        static func alternation(_ a: Shape, _ b: Shape, _ ceiling: Int) -> Shape {
            let nullable = a.nullable || b.nullable
            let head = add(add(a.head, b.head, ceiling), 1, ceiling)
            return Shape(nodes: add(add(a.nodes, b.nodes, ceiling), 1, ceiling), nullable: nullable,
                         head: head, tail: add(add(a.tail, b.tail, ceiling), nullable ? 1 : 0, ceiling),
                         cost: add(add(a.cost, b.cost, ceiling), head, ceiling),
                         paths: add(a.paths, b.paths, ceiling),
                         anchorPaths: add(a.anchorPaths, b.anchorPaths, ceiling),
                         anchorPeak: max(a.anchorPeak, b.anchorPeak, add(a.anchorPaths, b.anchorPaths, ceiling)))
        }

        /// `a{low,high}` (`high` nil: unbounded) the way glibc expands it.
        static func interval(_ a: Shape, low: Int, high: Int?, _ ceiling: Int) -> Shape {
            // Repeating nothing is nothing (and every copy of something adds to the cost, so the
            // loops below end at the ceiling).
            if a.nodes == 0 || low == 0 && high == 0 { return .empty }
            var result = Shape.empty
            for _ in 0..<low {
                result = concatenation(result, a, ceiling)
                if result.cost >= ceiling { return result }
            }
            guard let high else { return concatenation(result, star(a, ceiling), ceiling) }
            guard high > low else { return result }
            var optionalPart = optional(a, ceiling)
            var copies = low + 1
            while copies < high && optionalPart.cost < ceiling {
                optionalPart = optional(concatenation(optionalPart, a, ceiling), ceiling)
                copies += 1
            }
            return concatenation(result, optionalPart, ceiling)
        }
    }

    /// A recursive-descent reading of the pattern, in glibc's extended or basic syntax, that
    /// builds only `Shape`s. What it does not recognise counts as one literal byte: glibc reads
    /// most of that as literal too, and refuses the pattern for the rest.
    struct Parser {
        let pattern: [UInt8]
        let extended: Bool
        let ceiling: Int
        var index = 0
        /// The longest run of repetition operators applied one after another.
        var longestStack = 0

        /// GNU's escaped anchors: word boundaries, buffer start and end.
        static let escapedAnchors: [UInt8] = [UInt8(ascii: "b"), UInt8(ascii: "B"), UInt8(ascii: "<"),
                                              UInt8(ascii: ">"), UInt8(ascii: "`"), UInt8(ascii: "'")]

        /// Deeper groups than this are counted as over the limit (glibc recurses on them too).
        static let maximumDepth = 500

        init(pattern: [UInt8], extended: Bool, ceiling: Int) {
            self.pattern = pattern
            self.extended = extended
            self.ceiling = ceiling
        }

        func byte(_ at: Int) -> UInt8 { at < pattern.count ? pattern[at] : 0 }
        var atEnd: Bool { index >= pattern.count }

        var atAlternation: Bool {
            extended ? byte(index) == UInt8(ascii: "|")
                : byte(index) == UInt8(ascii: "\\") && byte(index + 1) == UInt8(ascii: "|")
        }

        var atGroupClose: Bool {
            extended ? byte(index) == UInt8(ascii: ")")
                : byte(index) == UInt8(ascii: "\\") && byte(index + 1) == UInt8(ascii: ")")
        }

        mutating func alternation(depth: Int) -> Shape {
            var shape = branch(depth: depth)
            while !atEnd && atAlternation && shape.cost < ceiling {
                index += extended ? 1 : 2
                shape = Shape.alternation(shape, branch(depth: depth), ceiling)
            }
            return shape
        }

        mutating func branch(depth: Int) -> Shape {
            var shape = Shape.empty
            var hasPiece = false
            while !atEnd && !atAlternation && !(depth > 0 && atGroupClose) && shape.cost < ceiling {
                var piece: Shape
                if !hasPiece, let operatorLength = repetition()?.length {
                    // An operator with nothing before it: literal, or an error regcomp() reports.
                    index += operatorLength
                    piece = .reading
                } else {
                    piece = atom(depth: depth)
                }
                var stack = 0
                while let (low, high, length) = repetition() {
                    index += length
                    piece = Shape.interval(piece, low: low, high: high, ceiling)
                    stack += 1
                }
                longestStack = max(longestStack, stack)
                shape = Shape.concatenation(shape, piece, ceiling)
                hasPiece = true
            }
            return shape
        }

        /// One atom: a group, a bracket expression, an escape, an anchor or one byte.
        mutating func atom(depth: Int) -> Shape {
            let first = byte(index)
            let opensGroup = extended ? first == UInt8(ascii: "(")
                : first == UInt8(ascii: "\\") && byte(index + 1) == UInt8(ascii: "(")
            if opensGroup {
                guard depth < Self.maximumDepth else {
                    index = pattern.count
                    return Shape(nodes: ceiling, nullable: false, head: 1, tail: 0, cost: ceiling, paths: 0)
                }
                index += extended ? 1 : 2
                let inner = alternation(depth: depth + 1)
                if atGroupClose { index += extended ? 1 : 2 }
                return Shape.concatenation(Shape.concatenation(.silent, inner, ceiling), .silent, ceiling)
            }
            switch first {
            case UInt8(ascii: "["):
                index = bracketEnd(index)
                return .reading
            case UInt8(ascii: "\\"):
                let escaped = byte(index + 1)
                index += 2
                return Self.escapedAnchors.contains(escaped) ? .anchor : .reading
            case UInt8(ascii: "^"), UInt8(ascii: "$"):
                // Anchors in extended syntax; in basic syntax only at the ends, literal elsewhere
                // (counted as anchors everywhere: the estimate errs on the side of caution).
                index += 1
                return .anchor
            default:
                index += 1
                return .reading
            }
        }

        /// The index after the bracket expression that starts at `start`.
        func bracketEnd(_ start: Int) -> Int {
            var end = start + 1
            if byte(end) == UInt8(ascii: "^") { end += 1 }
            if byte(end) == UInt8(ascii: "]") { end += 1 }
            while end < pattern.count && byte(end) != UInt8(ascii: "]") {
                let open = byte(end + 1)
                if byte(end) == UInt8(ascii: "["), open == UInt8(ascii: ":") || open == UInt8(ascii: ".") || open == UInt8(ascii: "=") {
                    end += 2
                    while end < pattern.count && !(byte(end) == open && byte(end + 1) == UInt8(ascii: "]")) { end += 1 }
                    end += 2
                } else {
                    end += 1
                }
            }
            return min(end + 1, pattern.count)
        }

        /// The repetition operator at the current index: its bounds (`high` nil: unbounded) and
        /// its length in bytes. Bounds above glibc's RE_DUP_MAX (32767) are an error of
        /// `regcomp()`'s own; they are clamped here so that counting stays bounded.
        func repetition() -> (low: Int, high: Int?, length: Int)? {
            let first = byte(index)
            if first == UInt8(ascii: "*") { return (0, nil, 1) }
            if extended {
                if first == UInt8(ascii: "+") { return (1, nil, 1) }
                if first == UInt8(ascii: "?") { return (0, 1, 1) }
                if first == UInt8(ascii: "{") { return interval(from: index + 1, closing: 1) }
                return nil
            }
            guard first == UInt8(ascii: "\\") else { return nil }
            switch byte(index + 1) {
            case UInt8(ascii: "+"): return (1, nil, 2)
            case UInt8(ascii: "?"): return (0, 1, 2)
            case UInt8(ascii: "{"): return interval(from: index + 2, closing: 2)
            default: return nil
            }
        }

        /// `{n}`, `{n,}`, `{n,m}` or `{,m}` starting at `start` (just after the brace), closed by
        /// `}` (extended) or `\}` (basic).
        func interval(from start: Int, closing: Int) -> (low: Int, high: Int?, length: Int)? {
            var at = start
            func number() -> Int? {
                var value: Int?
                while byte(at) >= 0x30 && byte(at) <= 0x39 {
                    value = min((value ?? 0) * 10 + Int(byte(at) - 0x30), 32_768)
                    at += 1
                }
                return value
            }
            let low = number()
            var high = low
            if byte(at) == UInt8(ascii: ",") {
                at += 1
                high = number()
                if low == nil && high == nil { return nil }
            } else if low == nil {
                return nil
            }
            let closed = closing == 1 ? byte(at) == UInt8(ascii: "}")
                : byte(at) == UInt8(ascii: "\\") && byte(at + 1) == UInt8(ascii: "}")
            guard closed else { return nil }
            let lowBound = low ?? 0
            if let high, high < lowBound { return nil }
            return (lowBound, high, at + closing - index)
        }
    }
}
