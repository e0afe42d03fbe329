import Foundation
import Testing
import HeloPolicy
@testable import HeloState
@testable import HeloStatePostgres

/// The PostgreSQL store against a real server: sharing between hosts, merging, schema set-up,
/// and every way the server can fail.
@Suite("PostgresStateStore")
struct PostgresStateStoreTests {
    @Test("two stores on one database see each other's entries and HELO log records")
    func twoHostsShare() throws {
        try withCluster { cluster in
            let first = try PostgresStateStore(urlText: cluster.url()), second = try PostgresStateStore(urlText: cluster.url())
            defer { first.close(); second.close() }
            try first.upsertPenalty(try entry("192.0.2.1", "boxed by mx1", first: 0, expires: day))
            try second.upsertPenalty(try entry("2001:db8::/64", "boxed by mx2", first: 0, expires: day))
            try first.appendHeloLog([HeloLogRecord(time: at(0), client: address("192.0.2.1"), helo: "a.example", verdict: "reject")])
            try second.appendHeloLog([HeloLogRecord(time: at(1), client: address("192.0.2.2"), helo: "b.example", verdict: "accept")])
            for store in [first, second] {
                let reasons = try store.loadPenalties(rememberedSince: at(0)).map(\.reason).sorted()
                #expect(reasons == ["boxed by mx1", "boxed by mx2"])
            }
            #expect(try cluster.psql("SELECT count(*) FROM helo_log", database: TestCluster.database) == "2")
            try second.removePenalty(try PenaltyKey(parsing: "192.0.2.1"))
            #expect(try first.loadPenalties(rememberedSince: at(0)).map(\.reason) == ["boxed by mx2"])
        }
    }

    @Test("a penalty upsert never shortens an entry another host made longer; a new run replaces an expired one")
    func mergeSemantics() throws {
        try withCluster { cluster in
            let mx1 = try PostgresStateStore(urlText: cluster.url()), mx2 = try PostgresStateStore(urlText: cluster.url())
            defer { mx1.close(); mx2.close() }
            let key = "192.0.2.7"
            // mx1 boxed the client a third time (a week); mx2, not refreshed yet, boxes it as a first offender.
            try mx1.upsertPenalty(try entry(key, "third offence at mx1", first: -2 * day, expires: 7 * day, offences: 3))
            try mx2.upsertPenalty(try entry(key, "first offence at mx2", first: 0, expires: day, offences: 1))
            var stored = try #require(try mx1.loadPenalties(rememberedSince: at(0)).first)
            #expect(stored.expires == at(7 * day))
            #expect(stored.offences == 3)
            #expect(stored.firstSeen == at(-2 * day))
            #expect(stored.reason == "third offence at mx1")

            // A longer entry wins, with its reason; the higher count and earlier first offence stay.
            try mx2.upsertPenalty(try entry(key, "fourth offence at mx2", first: -1 * day, expires: 14 * day, offences: 2))
            stored = try #require(try mx1.loadPenalties(rememberedSince: at(0)).first)
            #expect(stored.expires == at(14 * day))
            #expect(stored.offences == 3)
            #expect(stored.firstSeen == at(-2 * day))
            #expect(stored.reason == "fourth offence at mx2")

            // Long after it expired, a new run of offences starts afresh.
            try mx1.upsertPenalty(try entry(key, "new run", first: 30 * day, expires: 31 * day, offences: 1))
            stored = try #require(try mx2.loadPenalties(rememberedSince: at(0)).first)
            #expect(stored == (try entry(key, "new run", first: 30 * day, expires: 31 * day, offences: 1)))
        }
    }

    @Test("many stores racing to set the schema up on an empty database all succeed, with one version row")
    func concurrentSchemaCreation() async throws {
        try await withClusterAsync { cluster in
            let stores = (0..<6).map { _ in try! PostgresStateStore(urlText: cluster.url()) }
            defer { stores.forEach { $0.close() } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        try store.upsertPenalty(try entry("192.0.2.\(index + 1)", "racer \(index)", first: 0, expires: day))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try stores[0].loadPenalties(rememberedSince: at(0)).count == 6)
            #expect(try cluster.psql("SELECT count(*) || ' ' || max(version) FROM heloguard_schema",
                                     database: TestCluster.database) == "1 \(PostgresStateStore.schemaVersion)")
        }
    }

    @Test("a database of a newer heloguard, or with another program's tables, is refused for good")
    func refusedDatabases() throws {
        try withCluster { cluster in
            try cluster.psql("CREATE DATABASE newer OWNER \(TestCluster.user)")
            try cluster.psql("CREATE TABLE heloguard_schema (version integer NOT NULL); INSERT INTO heloguard_schema VALUES (99); "
                             + "ALTER TABLE heloguard_schema OWNER TO \(TestCluster.user)", database: "newer")
            let newer = try PostgresStateStore(urlText: cluster.url(database: "newer"))
            defer { newer.close() }
            #expect(throws: PostgresStoreError.schemaTooNew(location: "127.0.0.1:\(cluster.port)/newer", version: 99,
                                                            supported: PostgresStateStore.schemaVersion)) {
                try newer.loadPenalties(rememberedSince: at(0))
            }

            try cluster.psql("CREATE DATABASE foreign_db OWNER \(TestCluster.user)")
            try cluster.psql("CREATE TABLE penalty (id int); ALTER TABLE penalty OWNER TO \(TestCluster.user)", database: "foreign_db")
            let foreign = try PostgresStateStore(urlText: cluster.url(database: "foreign_db"))
            defer { foreign.close() }
            do {
                try foreign.upsertPenalty(try entry("192.0.2.1", "r", first: 0, expires: day))
                Issue.record("another program's table was written")
            } catch let failure as PostgresStoreError {
                #expect(failure == .foreignDatabase(location: "127.0.0.1:\(cluster.port)/foreign_db"))
                #expect(!failure.isTransient && failure.isConfigurationProblem)
            }
            #expect(try cluster.psql("SELECT count(*) FROM penalty", database: "foreign_db") == "0")
        }
    }

    @Test("a closed port: a transient error naming host:port, at once, and no password in it")
    func closedPort() throws {
        let port = try TestCluster.freePort()
        let store = try PostgresStateStore(urlText: "postgresql://heloguard:\(TestCluster.password)@127.0.0.1:\(port)/heloguard?sslmode=disable")
        defer { store.close() }
        let started = ContinuousClock.now
        do {
            _ = try store.loadPenalties(rememberedSince: at(0))
            Issue.record("loaded from a closed port")
        } catch let failure as PostgresStoreError {
            #expect(failure.isTransient)
            #expect(!failure.isConfigurationProblem)
            #expect(failure.description.contains("127.0.0.1:\(port)/heloguard"), "\(failure)")
            #expect(failure.description.contains("refused"), "\(failure)")
            #expect(!failure.description.contains(TestCluster.password))
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test("a port that accepts and never answers: a transient error within the connect timeout")
    func silentServer() throws {
        // A listening socket nobody accepts from: the TCP handshake completes (backlog), the
        // PostgreSQL handshake never does.
        let listener = try SilentListener()
        defer { listener.close() }
        let store = try PostgresStateStore(urlText: "postgresql://u:secret-pw@127.0.0.1:\(listener.port)/db?sslmode=disable",
                                           connectTimeout: .seconds(1), queryTimeout: .seconds(1))
        defer { store.close() }
        let started = ContinuousClock.now
        do {
            try store.apply([.heloLog(HeloLogRecord(time: at(0), client: address("192.0.2.1"), helo: "x", verdict: "accept"))])
            Issue.record("a silent server accepted a write")
        } catch let failure as PostgresStoreError {
            guard case let .unreachable(location, reason) = failure else { Issue.record("\(failure)"); return }
            #expect(location == "127.0.0.1:\(listener.port)/db")
            #expect(reason.hasPrefix("no connection within"), "\(reason)")
            #expect(failure.isTransient)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test("a wrong password or a missing database: a lasting error that names the database, never the password")
    func refusedLogins() throws {
        try withCluster { cluster in
            let wrong = try PostgresStateStore(urlText: cluster.url(password: "wrong-secret-123"))
            defer { wrong.close() }
            do {
                _ = try wrong.loadPenalties(rememberedSince: at(0))
                Issue.record("logged in with a wrong password")
            } catch let failure as PostgresStoreError {
                guard case .authenticationFailed = failure else { Issue.record("\(failure)"); return }
                #expect(!failure.isTransient && failure.isConfigurationProblem)
                #expect(failure.description.contains("127.0.0.1:\(cluster.port)/heloguard"))
                #expect(!failure.description.contains("wrong-secret-123"))
                #expect(!String(reflecting: failure).contains("wrong-secret-123"))
            }

            let missing = try PostgresStateStore(urlText: cluster.url(database: "no_such_db"))
            defer { missing.close() }
            #expect(throws: PostgresStoreError.databaseMissing(location: "127.0.0.1:\(cluster.port)/no_such_db")) {
                try missing.upsertPenalty(try entry("192.0.2.1", "r", first: 0, expires: day))
            }
        }
    }

    @Test("the server stopped mid-way: transient errors within the deadline, then the same store works again")
    func serverRestart() throws {
        try withCluster { cluster in
            let store = try PostgresStateStore(urlText: cluster.url(), connectTimeout: .seconds(2), queryTimeout: .seconds(2))
            defer { store.close() }
            try store.upsertPenalty(try entry("192.0.2.1", "before", first: 0, expires: day))
            try cluster.stop()

            for _ in 0..<2 {  // the broken connection, then a refused reconnect
                let started = ContinuousClock.now
                do {
                    try store.upsertPenalty(try entry("192.0.2.2", "during", first: 0, expires: day))
                    Issue.record("wrote to a stopped server")
                } catch let failure as PostgresStoreError {
                    #expect(failure.isTransient, "\(failure)")
                }
                #expect(ContinuousClock.now - started < .seconds(3))
            }

            try cluster.start()
            try store.upsertPenalty(try entry("192.0.2.3", "after", first: 0, expires: day))
            #expect(try store.loadPenalties(rememberedSince: at(0)).map(\.reason).sorted() == ["after", "before"])
        }
    }
}

/// Runs `body` with a fresh cluster, destroyed afterwards whatever happens.
func withClusterAsync(_ body: (TestCluster) async throws -> Void) async throws {
    let cluster = try TestCluster()
    defer { cluster.destroy() }
    try await body(cluster)
}

/// A TCP socket on 127.0.0.1 that listens but never accepts or answers.
struct SilentListener {
    let descriptor: Int32
    let port: Int

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = descriptor
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard ok else { throw ClusterError.commandFailed("listen on 127.0.0.1", String(cString: strerror(errno))) }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(descriptor) }
}
