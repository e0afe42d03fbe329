import Foundation
import Synchronization

/// A Prometheus histogram whose recording takes no lock: one atomic counter per bucket, the
/// count and the sum (in nanoseconds). swift-prometheus' own histograms lock on every record,
/// which a milter callback must not. A scrape reads the atomics one by one, so a record that
/// runs at that moment may show in the count before the sum — harmless for a rate.
final class AtomicHistogram: Sendable {
    let name: String
    let labels: [(String, String)]
    /// Upper bounds in seconds, ascending; `+Inf` is the count.
    let bounds: [Double]
    private let buckets: [AtomicCell]
    private let count = Atomic<Int>(0)
    private let sumNanoseconds = Atomic<Int>(0)

    init(name: String, labels: [(String, String)], buckets: [Double]) {
        self.name = name
        self.labels = labels
        self.bounds = buckets.sorted()
        self.buckets = self.bounds.map { _ in AtomicCell() }
    }

    func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        let value = Double(nanoseconds) / 1e9
        // Only the first bucket that holds the value: buckets are cumulated when written out.
        var index = 0
        while index < bounds.count && value > bounds[index] { index += 1 }
        if index < bounds.count { buckets[index].value.wrappingAdd(1, ordering: .relaxed) }
        sumNanoseconds.wrappingAdd(nanoseconds, ordering: .relaxed)
        count.wrappingAdd(1, ordering: .relaxed)
    }

    /// `name="value",...` of the labels, escaped for the text format.
    var labelText: String {
        labels.map { "\($0.0)=\"\(Self.escaped($0.1))\"" }.joined(separator: ",")
    }

    /// Writes the histograms (all of one name) in the text format: HELP and TYPE once, then
    /// each one's cumulative buckets, sum and count.
    static func emit(_ histograms: [AtomicHistogram], help: String, into buffer: inout [UInt8]) {
        guard let first = histograms.first else { return }
        var text = "# HELP \(first.name) \(help)\n# TYPE \(first.name) histogram\n"
        for histogram in histograms {
            let labels = histogram.labelText
            let prefix = labels.isEmpty ? "" : labels + ","
            var cumulative = 0
            for (bound, bucket) in zip(histogram.bounds, histogram.buckets) {
                cumulative += bucket.value.load(ordering: .relaxed)
                text += "\(histogram.name)_bucket{\(prefix)le=\"\(format(bound))\"} \(cumulative)\n"
            }
            let total = histogram.count.load(ordering: .relaxed)
            text += "\(histogram.name)_bucket{\(prefix)le=\"+Inf\"} \(max(total, cumulative))\n"
            let sum = Double(histogram.sumNanoseconds.load(ordering: .relaxed)) / 1e9
            let braces = labels.isEmpty ? "" : "{\(labels)}"
            text += "\(histogram.name)_sum\(braces) \(sum)\n"
            text += "\(histogram.name)_count\(braces) \(max(total, cumulative))\n"
        }
        buffer.append(contentsOf: Array(text.utf8))
    }

    static func format(_ bound: Double) -> String {
        bound == bound.rounded() && bound < 1e15 ? String(Int(bound)) + ".0" : String(bound)
    }

    static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// One atomic integer that can sit in an array (`Atomic` itself cannot be copied).
final class AtomicCell: Sendable {
    let value = Atomic<Int>(0)
}
