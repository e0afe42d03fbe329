#!/usr/bin/env python3
"""Fills a heloguard state database's HELO log with a realistic mix of records, for the
`heloguard stats` benchmark (scripts/bench part 4).

The database must exist with heloguard's schema (any heloguard command that opens the state
store creates it); the records are inserted in one transaction, oldest first, as the milter
would have written them. Deterministic for a given --seed.

The mix, by share of connections:
  45 %  ordinary servers: 4,000 addresses, each with its own name as HELO and reverse name;
  10 %  Google and Microsoft servers: 1,000 addresses with the providers' names;
  33 %  spam bots: ~94,000 addresses sharing 2,000 made-up names (a few very common), most
        refused by one of four restrictions, 70 % with a reverse name at an ISP;
   7 %  rotating bots: 500 addresses, each cycling through 12 names of its own;
   5 %  provider claims: 400 addresses giving Google, Microsoft or Yahoo names; 80 % with
        a reverse name at an ISP.
"""

import argparse
import random
import sqlite3
import time

RESTRICTIONS = [
    "reject_non_fqdn_helo_hostname",
    "reject_unknown_helo_hostname",
    "check_helo_access hash:/etc/heloguard/helo_access",
    "reject_invalid_helo_hostname",
]
CLAIMED_NAMES = ["gmail.com", "mx.google.com", "outlook.com", "mail.outlook.com", "yahoo.com", "smtp.mail.yahoo.com"]


def records(count, seed, now):
    rng = random.Random(seed)
    span = 30 * 86400
    start = now - span
    bot_names = [f"bot{i}" if i % 3 else f"desktop-{i:04x}.lan" for i in range(2000)]
    # Zipf-like weights: a handful of names carry most bot traffic.
    bot_weights = [1.0 / (i + 1) for i in range(len(bot_names))]
    bot_cumulative = []
    total = 0.0
    for weight in bot_weights:
        total += weight
        bot_cumulative.append(total)

    for index in range(count):
        when = start + (span * index) // count
        kind = rng.random()
        if kind < 0.45:
            server = rng.randrange(4000)
            name = f"mail{server}.example{server % 500}.test"
            yield (when, f"10.{server // 250}.{server % 250}.1", name, "accept", None, name)
        elif kind < 0.55:
            host = rng.randrange(1000)
            if host < 500:
                name = f"mail-{host}.google.com"
                client = f"209.85.{host // 250}.{host % 250}"
            else:
                name = f"mail-{host}.outbound.protection.outlook.com"
                client = f"40.107.{host // 250}.{host % 250}"
            yield (when, client, name, "accept", None, name)
        elif kind < 0.88:
            bot = rng.randrange(94000)
            client = f"198.{18 + bot // 65536}.{(bot // 256) % 256}.{bot % 256}"
            pick = rng.random() * total
            low, high = 0, len(bot_cumulative) - 1
            while low < high:
                middle = (low + high) // 2
                if bot_cumulative[middle] < pick:
                    low = middle + 1
                else:
                    high = middle
            name = bot_names[low]
            client_name = f"host-{bot}.isp{bot % 40}.test" if bot % 10 < 7 else None
            if rng.random() < 0.6:
                restriction = RESTRICTIONS[low % len(RESTRICTIONS)]
                yield (when, client, name, "reject", restriction, client_name)
            else:
                yield (when, client, name, "accept", None, client_name)
        elif kind < 0.95:
            bot = rng.randrange(500)
            client = f"203.0.{bot // 250}.{bot % 250}"
            name = f"r{bot}-{rng.randrange(12)}.dyn.test"
            client_name = f"dyn-{bot}.isp7.test"
            if rng.random() < 0.5:
                yield (when, client, name, "reject", "reject_unknown_helo_hostname", client_name)
            else:
                yield (when, client, name, "accept", None, client_name)
        else:
            claimant = rng.randrange(400)
            client = f"192.0.2.{claimant % 250}" if claimant < 250 else f"100.64.0.{claimant - 250}"
            name = CLAIMED_NAMES[claimant % len(CLAIMED_NAMES)]
            client_name = f"cpe-{claimant}.broadband.test" if claimant % 5 else None
            yield (when, client, name, "accept", None, client_name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the heloguard.sqlite file (schema already created)")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--now", type=int, default=None, help="the newest record's time (Unix seconds); default now")
    args = parser.parse_args()

    now = args.now if args.now is not None else int(time.time())
    connection = sqlite3.connect(args.db, isolation_level=None)
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version < 2:
        raise SystemExit(f"{args.db}: schema version {version}; let heloguard create the database first")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO helo_log (time, client, helo, verdict, restriction, client_name) VALUES (?, ?, ?, ?, ?, ?)",
        records(args.records, args.seed, now))
    connection.execute("COMMIT")
    stored = connection.execute("SELECT count(*) FROM helo_log").fetchone()[0]
    connection.close()
    print(f"{stored} HELO log records in {args.db}")


if __name__ == "__main__":
    main()
