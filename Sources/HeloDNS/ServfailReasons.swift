import HeloPolicy

/// Recovers why libunbound answered SERVFAIL.
///
/// libunbound never hands on a server's REFUSED, FORMERR or NOTIMP: it tries the server again,
/// then reports SERVFAIL, the same as for a server that said SERVFAIL or did not answer. Postfix
/// (through the C library) treats REFUSED and friends as permanent (`DNS_FAIL`) and SERVFAIL as
/// temporary (`DNS_RETRY`). The only place libunbound keeps the difference is its
/// `log-servfail` line, e.g.
///
///     error: SERVFAIL <foo.example. A IN>: all the configured stub or forward servers failed,
///     at zone . from 127.0.0.1 got REFUSED
///
/// so ``UnboundResolver`` captures libunbound's log and this type reads those lines. A question
/// answered from libunbound's failure cache (it keeps a SERVFAIL for 5 seconds) logs only
/// "SERVFAIL in cache", so the last reason seen for a question is remembered for a while.
/// When no line is found the answer stays a temporary failure.
struct ServfailReasons: Sendable {
    /// How long a reason is remembered; longer than libunbound's 5-second failure cache.
    static let memoryNanoseconds: UInt64 = 30_000_000_000
    /// At most this many questions are remembered.
    static let capacity = 2048

    private var remembered: [String: (answer: DNSAnswer, at: UInt64)] = [:]

    /// Reads one line of libunbound's log; remembers what it says if it is a SERVFAIL line.
    mutating func read(line: String, now: UInt64) {
        guard let (key, text) = Self.parse(line: line) else { return }
        if text.hasSuffix("SERVFAIL in cache") {
            // Keeps the reason of the failure that went into the cache, if known.
            if let known = remembered[key] {
                remembered[key] = (known.answer, now)
                return
            }
        }
        if remembered.count >= Self.capacity { forgetOld(now: now) }
        if remembered.count >= Self.capacity { remembered.removeAll() }
        remembered[key] = (Self.classify(text), now)
    }

    /// What a SERVFAIL for the question `key` (see ``QueryName/logKey(_:type:)``) stands for.
    func answer(forKey key: String, now: UInt64) -> DNSAnswer? {
        guard let entry = remembered[key], now &- entry.at <= Self.memoryNanoseconds else { return nil }
        return entry.answer
    }

    private mutating func forgetOld(now: UInt64) {
        remembered = remembered.filter { now &- $0.value.at <= Self.memoryNanoseconds }
    }

    /// The question key (lowercased, as in ``QueryName/logKey(_:type:)``) and the reason text of a
    /// `SERVFAIL <...>: reason` log line.
    static func parse(line: String) -> (key: String, text: String)? {
        guard let start = line.range(of: "SERVFAIL <"),
              let end = line.range(of: ">: ", range: start.upperBound..<line.endIndex) else { return nil }
        let key = String(line[start.upperBound..<end.lowerBound]).lowercased()
        let text = String(line[end.upperBound...]).trimmingTrailingWhitespace()
        return (key, text)
    }

    /// The answer a SERVFAIL reason stands for: "got X" with X other than SERVFAIL is a server's
    /// permanent refusal (`failed`); anything else is temporary.
    static func classify(_ text: String) -> DNSAnswer {
        if let got = text.range(of: " got ", options: .backwards) {
            let rcode = text[got.upperBound...].prefix { $0 != " " && $0 != "," }
            var server = "the DNS server"
            if let from = text.range(of: "from ", options: .backwards, range: text.startIndex..<got.lowerBound) {
                server += " " + text[from.upperBound..<got.lowerBound]
            }
            if rcode == "SERVFAIL" {
                return .temporaryFailure("\(server) answered SERVFAIL")
            }
            return .failed("\(server) answered \(rcode)")
        }
        return .temporaryFailure("server failure: \(text)")
    }
}

extension String {
    fileprivate func trimmingTrailingWhitespace() -> String {
        var result = self
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }

    /// `range(of:options:range:)` without Foundation: the first (or with `.backwards`, the last)
    /// occurrence of `needle` inside `range`.
    fileprivate func range(
        of needle: String, options: SearchDirection = .forwards, range: Range<Index>? = nil
    ) -> Range<Index>? {
        let bounds = range ?? startIndex..<endIndex
        let haystack = self[bounds]
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var candidates: [Index] = []
        var index = haystack.startIndex
        while index < haystack.endIndex {
            if haystack[index...].hasPrefix(needle) {
                if options == .forwards {
                    return index..<self.index(index, offsetBy: needle.count)
                }
                candidates.append(index)
            }
            index = haystack.index(after: index)
        }
        guard let last = candidates.last else { return nil }
        return last..<self.index(last, offsetBy: needle.count)
    }

    fileprivate enum SearchDirection { case forwards, backwards }
}
