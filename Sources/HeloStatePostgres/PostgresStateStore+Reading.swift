import Foundation
import HeloPolicy
import HeloState
import PostgresNIO

/// `heloguard replay`'s walk over the fleet's HELO log: the embedded store's pages, in the same
/// order (time, then id, both descending), each page one query in a read-only transaction under
/// ``PostgresStateStore/statisticsTimeout``.
extension PostgresStateStore: HeloLogReading {
    public func heloLogPage(since: Date?, before cursor: HeloLogCursor?, count: Int) throws -> HeloLogPage {
        try statistics("read the HELO log") { session in
            let result = try session.run(["""
                SELECT id, time, client, helo, verdict, restriction, client_name FROM helo_log
                WHERE time >= \(since.map(Self.seconds) ?? Int64.min)
                  AND (time, id) < (\(cursor?.time ?? Int64.max), \(cursor?.id ?? Int64.max))
                ORDER BY time DESC, id DESC LIMIT \(Int64(max(1, count)))
                """])[0]
            var page = HeloLogPage(records: [], next: nil)
            var last: HeloLogCursor? = nil
            var rows = 0
            for row in result.rows {
                let (id, time, client, helo, verdict, restriction, clientName) =
                    try row.decode((Int64, Int64, String, String, String, String?, String?).self)
                rows += 1
                last = HeloLogCursor(time: time, id: id)
                guard let address = IPAddress(client) else {
                    page.unreadable += 1
                    continue
                }
                page.records.append(HeloLogRecord(time: Self.date(time), client: address, helo: helo, verdict: verdict,
                                                  restriction: restriction, clientName: clientName))
            }
            page.next = rows < count ? nil : last
            return page
        }
    }
}
