import Foundation
import HeloPolicy
import Locking

/// The penalty box as the per-connection path sees it: an in-memory table of boxed clients.
///
/// Looking a client up is a hash lookup under a mutex, never a database call, so a slow or
/// unreachable store cannot delay an SMTP reply. The store (see ``StateStore``) is the box's
/// memory across restarts: fill the box from ``StateStore/loadPenalties(rememberedSince:)`` at
/// start, and hand every entry ``penalize(_:reason:at:)`` returns to a ``StateWriter``.
///
/// The box holds at most ``PenaltyPolicy/maxEntries`` entries, expired ones it still remembers
/// for the backoff included. When a new key arrives in a full box, the entry that expires soonest
/// makes room (a forgotten or expired one first, by construction). Eviction finds that entry in
/// a heap ordered by expiry, so every operation is O(1) or O(log n).
public final class PenaltyBox: Sendable {
    public let policy: PenaltyPolicy
    private let state: Locked<State>

    public init(policy: PenaltyPolicy = PenaltyPolicy()) {
        self.policy = policy
        self.state = Locked(State())
    }

    /// The entry that boxes `address` at `now`, or nil when the client is not boxed (never was,
    /// or its entry has expired).
    public func lookup(_ address: IPAddress, at now: Date) -> PenaltyEntry? {
        lookup(key: policy.key(for: address), at: now)
    }

    /// The entry for `key` if it is active at `now`.
    public func lookup(key: PenaltyKey, at now: Date) -> PenaltyEntry? {
        state.withLock { state in
            guard let entry = state.entries[key], entry.isActive(at: now) else { return nil }
            return entry
        }
    }

    /// Records an offence by `address` at `now` and returns the entry that now boxes it (new, or
    /// with its time doubled for a repeat offender; see ``PenaltyPolicy``).
    @discardableResult
    public func penalize(_ address: IPAddress, reason: String, at now: Date) -> PenaltyEntry {
        let key = policy.key(for: address)
        return state.withLock { state in
            let entry = policy.offence(by: key, reason: reason, at: now, previous: state.entries[key])
            state.put(entry, limit: policy.maxEntries)
            return entry
        }
    }

    /// Replaces the whole content, e.g. with what the store holds. Entries beyond the bound are
    /// dropped, soonest-expiring first.
    public func replaceAll(with entries: [PenaltyEntry]) {
        state.withLock { state in
            state = State()
            for entry in entries { state.put(entry, limit: policy.maxEntries) }
        }
    }

    /// Takes `key` out of the box; returns the entry it had.
    @discardableResult
    public func remove(_ key: PenaltyKey) -> PenaltyEntry? {
        state.withLock { $0.entries.removeValue(forKey: key) }
    }

    /// How many entries the box holds, the remembered expired ones included.
    public var count: Int { state.withLock { $0.entries.count } }

    /// The table and the heap that orders it by expiry. The heap may hold stale elements (for a
    /// key since removed or given a new expiry); they are skipped when they surface and the heap
    /// is rebuilt when they outnumber the live ones.
    struct State: ~Copyable {
        var entries: [PenaltyKey: PenaltyEntry] = [:]
        var heap = ExpiryHeap()

        mutating func put(_ entry: PenaltyEntry, limit: Int) {
            if entries[entry.key] == nil {
                while entries.count >= limit, let victim = soonest() {
                    entries.removeValue(forKey: victim.key)
                }
            }
            entries[entry.key] = entry
            heap.push(ExpiryHeap.Element(expires: entry.expires, key: entry.key))
            if heap.count > 2 * entries.count + 64 {
                heap = ExpiryHeap(entries.values.map { ExpiryHeap.Element(expires: $0.expires, key: $0.key) })
            }
        }

        /// The live entry that expires soonest (stale heap elements are dropped on the way).
        mutating func soonest() -> PenaltyEntry? {
            while let top = heap.peek() {
                if let entry = entries[top.key], entry.expires == top.expires { return entry }
                heap.pop()
            }
            return nil
        }
    }
}

/// A binary min-heap of (expiry, key), soonest expiry on top.
struct ExpiryHeap {
    struct Element {
        var expires: Date
        var key: PenaltyKey

        static func precedes(_ a: Element, _ b: Element) -> Bool {
            (a.expires, a.key) < (b.expires, b.key)
        }
    }

    private var items: [Element] = []

    init() {}

    init(_ elements: [Element]) {
        items = elements
        var index = items.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    var count: Int { items.count }

    func peek() -> Element? { items.first }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Element.precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        siftDown(0)
        return top
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, Element.precedes(items[left], items[smallest]) { smallest = left }
            if right < items.count, Element.precedes(items[right], items[smallest]) { smallest = right }
            if smallest == parent { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
