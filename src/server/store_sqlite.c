/* The SQLite store: every SQL statement and every schema migration of the server.
 * WAL journal. Admin writes commit with synchronous=FULL (the WAL is on disk when the
 * change is answered, and with it every commit before); the writer thread's batches of
 * device records with synchronous=NORMAL (a commit does not wait for fsync: a power cut may
 * lose the last batches, never corrupts the database). A small pool of connections serves
 * concurrent readers; writes take the write lock with BEGIN IMMEDIATE. */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imageid.h"
#include "evtext.h"
#include "store.h"
#include "store_devsql.h"
#include "updraft/version.h"

/* ---- schema ------------------------------------------------------------------------ */

/* Migrations, applied in order; PRAGMA user_version counts the applied ones. Never edit
 * an entry once released: append a new one. */
static const char *const MIGRATIONS[] = {
    /* 1: releases, channels, devices, events */
    "CREATE TABLE releases("
    " id INTEGER PRIMARY KEY, version TEXT NOT NULL, platform TEXT NOT NULL,"
    " mode TEXT NOT NULL, kind TEXT NOT NULL, chip TEXT NOT NULL DEFAULT '',"
    " channel TEXT NOT NULL DEFAULT '', filename TEXT NOT NULL DEFAULT '',"
    " notes TEXT NOT NULL DEFAULT '', md5 TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE,"
    " inner_md5 TEXT NOT NULL DEFAULT '', size INTEGER NOT NULL,"
    " inner_size INTEGER NOT NULL DEFAULT -1, created_ms INTEGER NOT NULL,"
    " retired INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE channels("
    " name TEXT NOT NULL, platform TEXT NOT NULL, mode TEXT NOT NULL,"
    " release_id INTEGER NOT NULL REFERENCES releases(id), updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(name, platform, mode));"
    "CREATE TABLE devices("
    " mac TEXT PRIMARY KEY, ap_mac TEXT, family TEXT, chip_id TEXT, sdk TEXT, version TEXT,"
    " sketch_size INTEGER, sketch_md5 TEXT, sketch_sha256 TEXT, free_space INTEGER,"
    " chip_size INTEGER, mode TEXT, ip TEXT, user_agent TEXT,"
    " first_seen_ms INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER NOT NULL DEFAULT 0,"
    " channel TEXT, pin_release INTEGER, offered_release INTEGER, offered_ms INTEGER,"
    " offer_downloads INTEGER NOT NULL DEFAULT 0, pre_md5 TEXT, pre_sha256 TEXT,"
    " pre_version TEXT, running_release INTEGER, last_result TEXT);"
    "CREATE INDEX devices_seen ON devices(last_seen_ms);"
    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, mac TEXT, kind TEXT NOT NULL,"
    " release_id INTEGER, bytes INTEGER, detail TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX events_mac ON events(mac, id);",
    /* 2: when the device's last event was written (routine checks are thinned out) */
    "ALTER TABLE devices ADD COLUMN last_event_ms INTEGER NOT NULL DEFAULT 0;",
    /* 3: the last outcome report a device sent (recorded once, docs/protocol.md) */
    "ALTER TABLE devices ADD COLUMN last_report TEXT;",
    /* 4: every hash a device running a release can report (imageid.c); the rows of
     * older releases start with what was known of them and are completed at start-up */
    "CREATE TABLE release_hashes("
    " release_id INTEGER NOT NULL REFERENCES releases(id), hex TEXT NOT NULL,"
    " what TEXT NOT NULL, PRIMARY KEY(release_id, hex)) WITHOUT ROWID;"
    "CREATE INDEX release_hashes_hex ON release_hashes(hex, release_id);"
    "ALTER TABLE releases ADD COLUMN hash_rules INTEGER NOT NULL DEFAULT 0;"
    "INSERT OR IGNORE INTO release_hashes SELECT id, md5, 'file MD5' FROM releases;"
    "INSERT OR IGNORE INTO release_hashes SELECT id, sha256, 'file SHA-256' FROM releases;"
    "INSERT OR IGNORE INTO release_hashes SELECT id, inner_md5, 'inflated image MD5' FROM "
    "releases WHERE inner_md5<>'';",
    /* 5: a release that failed on a device is held back from it (outcome.c) */
    "ALTER TABLE devices ADD COLUMN hold_release INTEGER;"
    "ALTER TABLE devices ADD COLUMN hold_failures INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN hold_until_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX devices_held ON devices(hold_until_ms) WHERE hold_failures > 0;",
    /* 6: the gzip copy of an ESP8266 Arduino release (a blob of its own, policy.c) */
    "CREATE TABLE release_gzip("
    " release_id INTEGER PRIMARY KEY REFERENCES releases(id), sha256 TEXT NOT NULL,"
    " md5 TEXT NOT NULL, size INTEGER NOT NULL, min_stage INTEGER NOT NULL);"
    "CREATE INDEX release_gzip_sha ON release_gzip(sha256);",
    /* 7: the ESP32-family chip a channel is declared for (chip.c) */
    "CREATE TABLE channel_chips(name TEXT PRIMARY KEY, chip TEXT NOT NULL) WITHOUT ROWID;",
    /* 8: devices made by updraft's own tools (x-updraft-tool: sim, doctor), kept out of
     * the fleet's figures (docs/api.md "Devices") */
    "ALTER TABLE devices ADD COLUMN tool TEXT NOT NULL DEFAULT '';",
    /* 9: the public key a channel requires its ESP8266 releases to be signed with
     * (sigrule.c) */
    ("CREATE TABLE channel_keys(name TEXT PRIMARY KEY, pubkey TEXT NOT NULL,"
     " key_id TEXT NOT NULL) WITHOUT ROWID;"),
    /* 10: the channel named in the URL of a device's last check (the one it then uses),
     * and the operator's tags on devices (tags.h, docs/filters.md) */
    ("ALTER TABLE devices ADD COLUMN url_channel TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE devices ADD COLUMN tags TEXT NOT NULL DEFAULT '';"),
    /* 11: named API tokens with roles (authz.c; the secret only as its SHA-256), the
     * bootstrap admin token's row (key_id NULL: it records its uses), and who did an
     * admin action from where (audit events) */
    "CREATE TABLE api_tokens("
    " name TEXT PRIMARY KEY, role TEXT NOT NULL, channels TEXT NOT NULL DEFAULT '',"
    " key_id TEXT UNIQUE, hash TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL DEFAULT 0,"
    " created_by TEXT NOT NULL DEFAULT '', expires_ms INTEGER NOT NULL DEFAULT 0,"
    " last_used_ms INTEGER NOT NULL DEFAULT 0, last_used_from TEXT NOT NULL DEFAULT '');"
    "INSERT INTO api_tokens(name, role) VALUES('admin-token', 'admin');"
    "ALTER TABLE events ADD COLUMN actor TEXT;"
    "ALTER TABLE events ADD COLUMN source TEXT;",
    /* 12: staged rollouts (rollout.c) and each device's state in them */
    "CREATE TABLE rollouts("
    " id INTEGER PRIMARY KEY, release_id INTEGER NOT NULL REFERENCES releases(id),"
    " target TEXT NOT NULL DEFAULT '', rollback_of INTEGER NOT NULL DEFAULT 0,"
    " waves TEXT NOT NULL, thresholds TEXT NOT NULL DEFAULT '',"
    " max_fail_bp INTEGER NOT NULL, max_fail_count INTEGER NOT NULL,"
    " min_success INTEGER NOT NULL, min_sample INTEGER NOT NULL, soak_ms INTEGER NOT NULL,"
    " silent_ms INTEGER NOT NULL, win TEXT NOT NULL DEFAULT '', tz TEXT NOT NULL DEFAULT '',"
    " allow_downgrade INTEGER NOT NULL DEFAULT 0, start_at_ms INTEGER NOT NULL DEFAULT 0,"
    " webhook TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, wave INTEGER NOT NULL DEFAULT 0,"
    " wave_opened_ms INTEGER NOT NULL DEFAULT 0, health_from_ms INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " created_by TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE rollout_devices("
    " rollout_id INTEGER NOT NULL, mac TEXT NOT NULL, state TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL, PRIMARY KEY(rollout_id, mac)) WITHOUT ROWID;",
    /* 13: a channel set with --allow-downgrade offers its release to devices that run a
     * newer version, until it is set again (policy.c) */
    "ALTER TABLE channels ADD COLUMN allow_downgrade INTEGER NOT NULL DEFAULT 0;",
    /* 14: hourly counts of devices per platform and version (adoption.c): the adoption
     * chart's history */
    "CREATE TABLE adoption("
    " at_ms INTEGER NOT NULL, platform TEXT NOT NULL, version TEXT NOT NULL,"
    " tool TEXT NOT NULL DEFAULT '', devices INTEGER NOT NULL,"
    " PRIMARY KEY(at_ms, platform, version, tool)) WITHOUT ROWID;",
    /* 15: dashboard sessions (session.c): the cookie only as its SHA-256, the token it
     * acts for, its times */
    "CREATE TABLE sessions("
    " id TEXT PRIMARY KEY, csrf TEXT NOT NULL, token_name TEXT NOT NULL,"
    " token_key TEXT NOT NULL DEFAULT '', token_hash TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
    " ip TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
    "CREATE INDEX sessions_token ON sessions(token_name);",
    /* 16: the Devices table at fleet scale (devpage.c): each of its orders (ties by MAC)
     * and the version filter and order read from an index that also holds what filters
     * and searches test (family, version, tool, tags), so a page and its count read no
     * table row but the page's; tagged devices apart (tag searches) */
    "DROP INDEX devices_seen;"
    "CREATE INDEX devices_seen_mac ON devices(last_seen_ms, mac, family, version, tool, tags);"
    "CREATE INDEX devices_first_mac ON devices(first_seen_ms, mac, family, version, tool, tags);"
    "CREATE INDEX devices_version ON devices(version, mac, family, tool, tags);"
    "CREATE INDEX devices_mac_cover ON devices(mac, family, version, tool, tags);"
    "CREATE INDEX devices_tags ON devices(tags) WHERE tags<>'';",
    /* 17: the events of one kind across devices, newest first (the audit view: GET
     * /api/v1/events?kind=K, updraft events --kind K): Q_EV_LIST_KIND and the kind's
     * tail read their rows from here instead of walking back through every event (the
     * rowid, the event's id, is the index's last column) */
    "CREATE INDEX events_kind ON events(kind);",
    /* 18: PostgreSQL's record of which transaction and server last wrote each device row
     * (devsync.c): nothing here, one server writes the file (its data directory's lock) */
    "SELECT 1;",
    /* 19: PostgreSQL moves the last-seen time to a narrow table of its own (device_seen),
     * so that a routine check-in writes no new version of the wide devices row. Nothing
     * here: SQLite updates a row in place and only the index entries whose values change
     * (devices_seen_mac's), and its one writer keeps up (bench/results/pg.md) */
    "SELECT 1;",
};
#define N_MIGRATIONS ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]))

/* ---- statements ---------------------------------------------------------------------- */

/* A release row, from "releases r": its columns and its hash list as "hex:what;..." */
#define REL_COLS                                                                                   \
    "r.id, r.version, r.platform, r.mode, r.kind, r.chip, r.channel, r.filename, r.notes, r.md5, " \
    "r.sha256, r.inner_md5, r.size, r.inner_size, r.created_ms, r.retired, r.hash_rules, "         \
    "(SELECT group_concat(h.hex || ':' || h.what, ';') FROM release_hashes h WHERE "               \
    "h.release_id=r.id), g.sha256, g.md5, g.size, g.min_stage"
#define GZ_JOIN " LEFT JOIN release_gzip g ON g.release_id=r.id"
#define DEV_COLS                                                                                   \
    "mac, ap_mac, family, chip_id, sdk, version, sketch_size, sketch_md5, sketch_sha256, "         \
    "free_space, chip_size, mode, ip, user_agent, first_seen_ms, last_seen_ms, channel, "          \
    "pin_release, offered_release, offered_ms, offer_downloads, running_release, last_result, "    \
    "last_event_ms, last_report, hold_release, hold_failures, hold_until_ms, tool, url_channel, "  \
    "tags"
#define DEV_NCOLS 31
/* What store op device_scan reads (read_device_scan) */
#define DEV_SCAN_COLS                                                                              \
    "mac, family, version, sketch_md5, sketch_sha256, last_seen_ms, channel, pin_release, "        \
    "running_release, hold_release, hold_failures, hold_until_ms, tool, url_channel, tags"
/* An API token row (read_token) */
#define TOK_COLS                                                                                   \
    "name, role, channels, COALESCE(key_id, ''), hash, created_ms, created_by, expires_ms, "       \
    "last_used_ms, last_used_from"
/* The filter of device listings (upd_device_filter): ?1 effective channel (filter.h), ?2 family, ?3
 * version, ?4 seen since, ?6 attention, ?7 pinned to, ?9 tool ("none", "any" or a tool's name) */
#define DEV_FILTER                                                                                 \
    "(?1 IS NULL OR COALESCE(NULLIF(url_channel,''),NULLIF(channel,''),'stable')=?1) AND "         \
    "(?2 IS NULL OR family=?2) AND (?3 IS NULL OR version=?3) AND last_seen_ms>=?4 AND "           \
    "(?6=0 OR (hold_failures>0 AND hold_until_ms=0)) AND (?7=0 OR pin_release=?7) AND "            \
    "(?9 IS NULL OR (?9='none' AND tool='') OR (?9='any' AND tool<>'') OR tool=?9)"

enum q {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_REL_INSERT,
    Q_REL_GET,
    Q_REL_BY_SHA,
    Q_REL_BY_HASH,
    Q_HASH_INSERT,
    Q_HASH_CLEAR,
    Q_REL_HASH_RULES,
    Q_REL_LIST,
    Q_REL_RETIRE,
    Q_REL_UNCHANNEL,
    Q_BLOB_REF,
    Q_GZ_INSERT,
    Q_GZ_UPSERT,
    Q_CHAN_SET,
    Q_CHAN_CURRENT,
    Q_CHAN_LIST,
    Q_DEV_GET,
    Q_DEV_GET_PRE,
    Q_DEV_GET_OFFERED,
    Q_DEV_SCAN,
    Q_REL_UNRETIRE,
    Q_REL_NOTES,
    Q_REL_ADOPTION,
    Q_REL_USERS,
    Q_REL_FORGET,
    Q_REL_DELETE,
    Q_REL_DELETE_GZ,
    Q_REL_DELETE_ROW,
    Q_DEV_ENSURE,
    Q_DEV_PIN,
    Q_DEV_CHANNEL,
    Q_DEV_TAGS,
    Q_DEV_UPSERT,
    Q_DEV_SEEN,
    Q_DEV_OFFER,
    Q_DEV_UPDATED,
    Q_DEV_REPORT,
    Q_DEV_DOWNLOADED,
    Q_DEV_FAILED_RESET,
    Q_DEV_RUNNING,
    Q_DEV_HOLD,
    Q_EV_PRUNE,
    Q_EV_INSERT,
    Q_EV_INSERT_N,
    Q_EV_LIST,
    Q_EV_LIST_MAC,
    Q_EV_LIST_KIND,
    Q_CHIP_GET,
    Q_CHIP_SET,
    Q_CHIP_DEL,
    Q_KEY_GET,
    Q_KEY_SET,
    Q_KEY_DEL,
    Q_RO_DEV_PUT,
    Q_EV_ADD,
    Q_TOK_INSERT,
    Q_TOK_BY_KEY,
    Q_TOK_LIST,
    Q_TOK_DELETE,
    Q_TOK_TOUCH,
    Q_SES_INSERT,
    Q_SES_PRUNE,
    Q_SES_GET,
    Q_SES_TOUCH,
    Q_SES_DEL,
    Q_SES_DEL_TOKEN,
    Q__COUNT
};

/* The writer thread's events are inserted EV_ROWS at a time (see add_event). */
#define EV_ROWS 16
#define EV_ROW  "(?,?,?,?,?,?)"

static const char *const SQL[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_REL_INSERT] = "INSERT INTO releases(version, platform, mode, kind, chip, channel, "
                     "filename, notes, md5, sha256, inner_md5, size, inner_size, created_ms, "
                     "hash_rules) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
    [Q_REL_GET] = "SELECT " REL_COLS " FROM releases r" GZ_JOIN " WHERE r.id=?1",
    [Q_REL_BY_SHA] = "SELECT " REL_COLS " FROM releases r" GZ_JOIN " WHERE r.sha256=?1",
    [Q_REL_BY_HASH] =
        "SELECT " REL_COLS " FROM releases r" GZ_JOIN " WHERE r.id=(SELECT release_id FROM "
        "release_hashes WHERE hex=lower(?1) ORDER BY release_id DESC LIMIT 1)",
    [Q_HASH_INSERT] = "INSERT OR IGNORE INTO release_hashes(release_id, hex, what) "
                      "VALUES(?1,?2,?3)",
    [Q_HASH_CLEAR] = "DELETE FROM release_hashes WHERE release_id=?1",
    [Q_REL_HASH_RULES] = "UPDATE releases SET hash_rules=?2 WHERE id=?1",
    [Q_REL_LIST] = "SELECT " REL_COLS " FROM releases r" GZ_JOIN " ORDER BY r.id DESC",
    [Q_REL_RETIRE] = "UPDATE releases SET retired=1 WHERE id=?1",
    [Q_REL_UNCHANNEL] = "DELETE FROM channels WHERE release_id=?1",
    [Q_BLOB_REF] = "SELECT 1 FROM releases WHERE sha256=?1 UNION ALL "
                   "SELECT 1 FROM release_gzip WHERE sha256=?1",
    [Q_GZ_INSERT] = "INSERT INTO release_gzip(release_id, sha256, md5, size, min_stage) "
                    "VALUES(?1,?2,?3,?4,?5)",
    [Q_GZ_UPSERT] = "INSERT OR REPLACE INTO release_gzip(release_id, sha256, md5, size, "
                    "min_stage) VALUES(?1,?2,?3,?4,?5)",
    [Q_CHAN_SET] = "INSERT INTO channels(name, platform, mode, release_id, updated_ms, "
                   "allow_downgrade) VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(name, platform, mode) "
                   "DO UPDATE SET release_id=excluded.release_id, updated_ms=excluded.updated_ms, "
                   "allow_downgrade=excluded.allow_downgrade",
    [Q_CHAN_CURRENT] =
        "SELECT " REL_COLS ", c.allow_downgrade FROM channels c JOIN releases r ON "
        "r.id=c.release_id" GZ_JOIN " WHERE c.name=?1 AND c.platform=?2 AND c.mode=?3 AND "
        "r.retired=0",
    [Q_CHAN_LIST] = "SELECT c.name, c.platform, c.mode, c.release_id, r.version, c.updated_ms, "
                    "COALESCE(k.chip, '') FROM channels c JOIN releases r ON r.id=c.release_id "
                    "LEFT JOIN channel_chips k ON k.name=c.name "
                    "ORDER BY c.name, c.platform, c.mode",
    [Q_CHIP_GET] = "SELECT chip FROM channel_chips WHERE name=?1",
    [Q_CHIP_SET] = "INSERT INTO channel_chips(name, chip) VALUES(?1,?2) ON CONFLICT(name) DO "
                   "UPDATE SET chip=excluded.chip",
    [Q_CHIP_DEL] = "DELETE FROM channel_chips WHERE name=?1",
    [Q_KEY_GET] = "SELECT pubkey, key_id FROM channel_keys WHERE name=?1",
    [Q_KEY_SET] = "INSERT INTO channel_keys(name, pubkey, key_id) VALUES(?1,?2,?3) "
                  "ON CONFLICT(name) DO UPDATE SET pubkey=excluded.pubkey, key_id=excluded.key_id",
    [Q_KEY_DEL] = "DELETE FROM channel_keys WHERE name=?1",
    [Q_RO_DEV_PUT] = "INSERT INTO rollout_devices(rollout_id, mac, state, at_ms) "
                     "VALUES(?1,?2,?3,?4) ON CONFLICT(rollout_id, mac) DO UPDATE SET "
                     "state=excluded.state, at_ms=excluded.at_ms",
    [Q_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE mac=?1",
    /* the writer's read of a device: also what it ran when its open offer was made */
    [Q_DEV_GET_PRE] = "SELECT " DEV_COLS ", pre_md5, pre_sha256, pre_version FROM devices "
                      "WHERE mac=?1",
    /* a download-completed's read of a device, when it was offered the release (?2): the
     * row as Q_DEV_GET_PRE's and its rowid, for Q_DEV_DOWNLOADED */
    [Q_DEV_GET_OFFERED] = "SELECT " DEV_COLS ", pre_md5, pre_sha256, pre_version, rowid "
                          "FROM devices WHERE mac=?1 AND offered_release=?2",
    /* a pass over the fleet: in the table's order, not through devices_seen (whose
     * range ?4 = 0 takes every row, each then looked up in the table) */
    [Q_DEV_SCAN] = "SELECT " DEV_SCAN_COLS " FROM devices NOT INDEXED WHERE " DEV_FILTER,
    [Q_REL_UNRETIRE] = "UPDATE releases SET retired=0 WHERE id=?1",
    [Q_REL_NOTES] = "UPDATE releases SET notes=?2 WHERE id=?1",
    [Q_REL_ADOPTION] = "SELECT running_release, sum(tool=''), sum(tool<>'') FROM devices "
                       "WHERE running_release>0 GROUP BY running_release",
    [Q_REL_USERS] = "SELECT (SELECT count(*) FROM channels WHERE release_id=?1), "
                    "(SELECT count(*) FROM devices WHERE pin_release=?1)",
    [Q_REL_FORGET] = "UPDATE devices SET "
                     "offered_release=CASE WHEN offered_release=?1 THEN NULL ELSE offered_release "
                     "END, running_release=CASE WHEN running_release=?1 THEN NULL ELSE "
                     "running_release END, hold_release=CASE WHEN hold_release=?1 THEN NULL ELSE "
                     "hold_release END, hold_failures=CASE WHEN hold_release=?1 THEN 0 ELSE "
                     "hold_failures END WHERE offered_release=?1 OR running_release=?1 OR "
                     "hold_release=?1",
    [Q_REL_DELETE] = "DELETE FROM release_hashes WHERE release_id=?1",
    [Q_REL_DELETE_GZ] = "DELETE FROM release_gzip WHERE release_id=?1",
    [Q_REL_DELETE_ROW] = "DELETE FROM releases WHERE id=?1",
    [Q_DEV_ENSURE] = "INSERT OR IGNORE INTO devices(mac) VALUES(?1)",
    [Q_DEV_PIN] = "UPDATE devices SET pin_release=?2 WHERE mac=?1",
    [Q_DEV_CHANNEL] = "UPDATE devices SET channel=?2 WHERE mac=?1",
    /* only when the tags are still those the caller read (?3) */
    [Q_DEV_TAGS] = "UPDATE devices SET tags=?2 WHERE mac=?1 AND tags=?3",
    [Q_DEV_UPSERT] =
        "INSERT INTO devices(mac, ap_mac, family, chip_id, sdk, version, sketch_size, "
        "sketch_md5, sketch_sha256, free_space, chip_size, mode, ip, user_agent, first_seen_ms, "
        "last_seen_ms, last_result, last_event_ms, tool, url_channel) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?15,?16,COALESCE(?17,0),"
        "COALESCE(?18,''),COALESCE(?19,'')) "
        "ON CONFLICT(mac) DO UPDATE SET ap_mac=COALESCE(excluded.ap_mac, ap_mac), "
        /* every check says its URL's channel: "" (none) replaces the last one */
        "url_channel=excluded.url_channel, "
        /* a device a tool made stays marked (real devices never send the header) */
        "tool=CASE WHEN excluded.tool<>'' THEN excluded.tool ELSE tool END, "
        "family=COALESCE(excluded.family, family), chip_id=COALESCE(excluded.chip_id, chip_id), "
        "sdk=COALESCE(excluded.sdk, sdk), version=COALESCE(excluded.version, version), "
        "sketch_size=COALESCE(excluded.sketch_size, sketch_size), "
        "sketch_md5=COALESCE(excluded.sketch_md5, sketch_md5), "
        "sketch_sha256=COALESCE(excluded.sketch_sha256, sketch_sha256), "
        "free_space=COALESCE(excluded.free_space, free_space), "
        "chip_size=COALESCE(excluded.chip_size, chip_size), mode=COALESCE(excluded.mode, mode), "
        "ip=COALESCE(excluded.ip, ip), user_agent=COALESCE(excluded.user_agent, user_agent), "
        "first_seen_ms=CASE WHEN first_seen_ms=0 THEN excluded.first_seen_ms ELSE first_seen_ms "
        "END, last_seen_ms=MAX(last_seen_ms, excluded.last_seen_ms), "
        /* ?17 (the time) is set when the check-in is written as an event: then ?16 is
         * the event's detail, the device's last_result */
        "last_result=CASE WHEN ?17 IS NULL THEN last_result ELSE ?16 END, "
        "last_event_ms=COALESCE(?17, last_event_ms)",
    /* the upsert when the request's facts are what the row holds already */
    [Q_DEV_SEEN] = "UPDATE devices SET last_seen_ms=MAX(last_seen_ms, ?2), "
                   "last_result=CASE WHEN ?4 IS NULL THEN last_result ELSE ?3 END, "
                   "last_event_ms=COALESCE(?4, last_event_ms) WHERE mac=?1",
    [Q_DEV_OFFER] = "UPDATE devices SET offered_release=?2, offered_ms=?3, offer_downloads=0, "
                    "pre_md5=?4, pre_sha256=?5, pre_version=?6 WHERE mac=?1",
    [Q_DEV_UPDATED] = "UPDATE devices SET offered_release=NULL, offered_ms=NULL, "
                      "offer_downloads=0, running_release=?2 WHERE mac=?1",
    [Q_DEV_REPORT] = "UPDATE devices SET last_report=?2 WHERE mac=?1",
    /* by the rowid Q_DEV_GET_OFFERED read in the same transaction: no second seek
     * through the MAC's index (no RETURNING: SQLite builds an ephemeral table and a
     * statement journal for it, which cost more than the UPDATE and a SELECT together) */
    [Q_DEV_DOWNLOADED] = "UPDATE devices SET offer_downloads=offer_downloads+1 WHERE rowid=?1",
    [Q_DEV_FAILED_RESET] = "UPDATE devices SET offer_downloads=0 WHERE mac=?1",
    [Q_DEV_RUNNING] = "UPDATE devices SET running_release=?2 WHERE mac=?1",
    [Q_DEV_HOLD] = "UPDATE devices SET hold_release=?2, hold_failures=?3, hold_until_ms=?4 "
                   "WHERE mac=?1",
    [Q_EV_PRUNE] = "DELETE FROM events WHERE id IN "
                   "(SELECT id FROM events WHERE at_ms < ?1 ORDER BY id LIMIT ?2)",
    [Q_EV_INSERT_N] =
        "INSERT INTO events(at_ms, mac, kind, release_id, bytes, detail) VALUES" EV_ROW "," EV_ROW
        "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW
        "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW,
    [Q_EV_INSERT] = "INSERT INTO events(at_ms, mac, kind, release_id, bytes, detail) "
                    "VALUES(?1,?2,?3,?4,?5,?6)",
    [Q_EV_ADD] = "INSERT INTO events(at_ms, mac, kind, release_id, bytes, detail, actor, source) "
                 "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [Q_TOK_INSERT] = "INSERT INTO api_tokens(name, role, channels, key_id, hash, created_ms, "
                     "created_by, expires_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [Q_TOK_BY_KEY] = "SELECT " TOK_COLS " FROM api_tokens WHERE key_id=?1",
    [Q_TOK_LIST] = "SELECT " TOK_COLS " FROM api_tokens ORDER BY key_id IS NOT NULL, name",
    [Q_TOK_DELETE] = "DELETE FROM api_tokens WHERE name=?1 AND key_id IS NOT NULL",
    [Q_TOK_TOUCH] = "UPDATE api_tokens SET last_used_ms=?2, last_used_from=?3 WHERE name=?1 AND "
                    "last_used_ms<?2",
    [Q_SES_INSERT] =
        "INSERT INTO sessions(id, csrf, token_name, token_key, token_hash, created_ms, "
        "last_ms, expires_ms, ip) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [Q_SES_PRUNE] = "DELETE FROM sessions WHERE expires_ms<=?1 OR last_ms<=?2",
    [Q_SES_GET] = "SELECT id, csrf, token_name, token_key, token_hash, created_ms, last_ms, "
                  "expires_ms, ip FROM sessions WHERE id=?1",
    [Q_SES_TOUCH] = "UPDATE sessions SET last_ms=?2 WHERE id=?1 AND last_ms<?2",
    [Q_SES_DEL] = "DELETE FROM sessions WHERE id=?1",
    [Q_SES_DEL_TOKEN] = "DELETE FROM sessions WHERE token_name=?1",
    [Q_EV_LIST] =
        "SELECT id, at_ms, mac, kind, release_id, bytes, detail, actor, source FROM events WHERE "
        "(?1 IS NULL OR mac=?1) AND (?2 IS NULL OR kind=?2) AND (?3=0 OR id<?3) "
        "ORDER BY id DESC LIMIT ?4",
    /* one device's: by its index (events_mac), not by a walk back through every event
     * (the planner cannot use the index for "?1 IS NULL OR mac=?1") */
    [Q_EV_LIST_MAC] =
        "SELECT id, at_ms, mac, kind, release_id, bytes, detail, actor, source FROM events WHERE "
        "mac=?1 AND (?2 IS NULL OR kind=?2) AND (?3=0 OR id<?3) ORDER BY id DESC LIMIT ?4",
    /* one kind's, of every device: by events_kind (?3: the id to start below, INT64_MAX
     * for the newest; "?3=0 OR" would keep the planner from the index's range). EXPLAIN
     * QUERY PLAN: SEARCH events USING INDEX events_kind (kind=? AND rowid<?); without
     * the index (Q_EV_LIST before migration 17 likewise): a walk back through every
     * event, SEARCH events USING INTEGER PRIMARY KEY (rowid<?), until 50 of the kind are
     * found: all of them for a kind that is not there (bench/results/ui.md) */
    [Q_EV_LIST_KIND] =
        "SELECT id, at_ms, mac, kind, release_id, bytes, detail, actor, source FROM events WHERE "
        "kind=?2 AND id<?3 ORDER BY id DESC LIMIT ?4",
};

/* ---- connection pool ------------------------------------------------------------------ */

/* An event held back for a multi-row insert. */
typedef struct pending_event {
    int64_t at, rel, bytes;
    char mac[UPD_MAC_STR];
    const char *kind; /* a literal or a string of the batch's records */
    char detail[UPD_DETAIL_MAX];
} pending_event;

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[Q__COUNT];
    int busy;
    /* inside apply_batch: events are gathered here and inserted EV_ROWS per statement
     * (one statement per event cost more than the event's b-tree inserts) */
    int gather;
    pending_event ev[EV_ROWS];
    int nev;
    /* inside apply_batch: the releases check-ins were judged against (batch_release) */
    upd_release_row *brel;
    int nbrel;
    int stats_gen;   /* the planner statistics this connection has loaded (refresh_stats) */
    int sync_normal; /* PRAGMA synchronous is NORMAL (the writer's batches), else FULL */
} conn;

typedef struct sqlite_store {
    upd_store base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n;
    conn *pool;
    atomic_int stats_gen; /* bumped when refresh_stats gathered new statistics */
} sqlite_store;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection loads the planner statistics with its schema; another connection's ANALYZE
 * is seen only after "ANALYZE sqlite_schema" (which also re-plans its statements). */
static conn *fresh_stats(sqlite_store *s, conn *c)
{
    int gen = atomic_load(&s->stats_gen);
    if (c->stats_gen != gen &&
        sqlite3_exec(c->db, "ANALYZE sqlite_schema", NULL, NULL, NULL) == SQLITE_OK)
        c->stats_gen = gen;
    return c;
}

/* Set the connection's PRAGMA synchronous: NORMAL for the writer's batches, FULL for every
 * other write (those in a transaction of begin() and the single statements). A connection
 * serves both in turn; the setting changes only when the kind of work does. */
static int sync_mode(conn *c, int normal)
{
    if (c->sync_normal == normal)
        return 0;
    if (sqlite3_exec(c->db, normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL,
                     NULL, NULL) != SQLITE_OK)
        return UPD_STORE_EFAIL;
    c->sync_normal = normal;
    return 0;
}

/* A connection for a durable write or a read (synchronous=FULL; begin() checks it again
 * and fails a transaction that could not have it). */
static conn *acquire_as(sqlite_store *s, int normal)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < s->n; i++)
            if (!s->pool[i].busy) {
                s->pool[i].busy = 1;
                pthread_mutex_unlock(&s->mu);
                sync_mode(&s->pool[i], normal);
                return fresh_stats(s, &s->pool[i]);
            }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

static conn *acquire(sqlite_store *s)
{
    return acquire_as(s, 0);
}

static void release_conn(sqlite_store *s, conn *c)
{
    pthread_mutex_lock(&s->mu);
    c->busy = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The prepared statement q of c, reset and unbound; NULL if it cannot be prepared. */
static sqlite3_stmt *stmt(conn *c, enum q q)
{
    if (!c->st[q]) {
        if (sqlite3_prepare_v3(c->db, SQL[q], -1, SQLITE_PREPARE_PERSISTENT, &c->st[q], NULL) !=
            SQLITE_OK) {
            fprintf(stderr, "updraft: SQL prepare failed (%s): %s\n", sqlite3_errmsg(c->db),
                    SQL[q]);
            return NULL;
        }
    }
    if (sqlite3_stmt_busy(c->st[q])) /* the statements are reset after use: rarely */
        sqlite3_reset(c->st[q]);
    sqlite3_clear_bindings(c->st[q]);
    return c->st[q];
}

static void seterr(char *err, size_t errlen, const char *what, conn *c)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what, c ? sqlite3_errmsg(c->db) : "unknown error");
}

/* Bind text, NULL when s is NULL or empty. */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* The same for text that outlives the statement's use: the writer thread's records,
 * which stay put until apply_batch returns (no copy). */
static void bind_static_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int64_t v)
{
    if (v >= 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    /* cut short to cap like snprintf, without its cost (read_device has 14 of these) */
    const char *t = (const char *)sqlite3_column_text(st, i);
    size_t n = t ? strnlen(t, cap - 1) : 0;
    memcpy(out, t ? t : "", n);
    out[n] = '\0';
}

static int64_t col_int(sqlite3_stmt *st, int i, int64_t dflt)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return dflt;
    return sqlite3_column_int64(st, i);
}

static void read_release(sqlite3_stmt *st, upd_release_row *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    col_text(st, 1, r->version, sizeof r->version);
    col_text(st, 2, r->platform, sizeof r->platform);
    col_text(st, 3, r->mode, sizeof r->mode);
    col_text(st, 4, r->kind, sizeof r->kind);
    col_text(st, 5, r->chip, sizeof r->chip);
    col_text(st, 6, r->channel, sizeof r->channel);
    col_text(st, 7, r->filename, sizeof r->filename);
    col_text(st, 8, r->notes, sizeof r->notes);
    col_text(st, 9, r->md5, sizeof r->md5);
    col_text(st, 10, r->sha256, sizeof r->sha256);
    col_text(st, 11, r->inner_md5, sizeof r->inner_md5);
    r->size = col_int(st, 12, 0);
    r->inner_size = col_int(st, 13, -1);
    r->created_ms = col_int(st, 14, 0);
    r->retired = (int)col_int(st, 15, 0);
    r->hash_rules = (int)col_int(st, 16, 0);
    /* "hex:what;hex:what..." (hex digits and the descriptions hold neither ':' nor ';') */
    const char *p = (const char *)sqlite3_column_text(st, 17);
    while (p && *p && r->nhash < UPD_REL_HASH_MAX) {
        upd_release_hash *h = &r->hash[r->nhash];
        const char *colon = strchr(p, ':'), *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        if (colon && colon < end && (size_t)(colon - p) < sizeof h->hex) {
            memcpy(h->hex, p, (size_t)(colon - p));
            h->hex[colon - p] = '\0';
            size_t wn = (size_t)(end - colon - 1);
            if (wn >= sizeof h->what)
                wn = sizeof h->what - 1;
            memcpy(h->what, colon + 1, wn);
            h->what[wn] = '\0';
            r->nhash++;
        }
        p = *end ? end + 1 : end;
    }
    col_text(st, 18, r->gz_sha256, sizeof r->gz_sha256);
    col_text(st, 19, r->gz_md5, sizeof r->gz_md5);
    r->gz_size = col_int(st, 20, 0);
    r->gz_min_stage = col_int(st, 21, 0);
}

static void read_device(sqlite3_stmt *st, upd_device_row *d)
{
    memset(d, 0, sizeof *d);
    col_text(st, 0, d->mac, sizeof d->mac);
    col_text(st, 1, d->ap_mac, sizeof d->ap_mac);
    col_text(st, 2, d->family, sizeof d->family);
    col_text(st, 3, d->chip_id, sizeof d->chip_id);
    col_text(st, 4, d->sdk, sizeof d->sdk);
    col_text(st, 5, d->version, sizeof d->version);
    d->sketch_size = col_int(st, 6, -1);
    col_text(st, 7, d->sketch_md5, sizeof d->sketch_md5);
    col_text(st, 8, d->sketch_sha256, sizeof d->sketch_sha256);
    d->free_space = col_int(st, 9, -1);
    d->chip_size = col_int(st, 10, -1);
    col_text(st, 11, d->mode, sizeof d->mode);
    col_text(st, 12, d->ip, sizeof d->ip);
    col_text(st, 13, d->user_agent, sizeof d->user_agent);
    d->first_seen_ms = col_int(st, 14, 0);
    d->last_seen_ms = col_int(st, 15, 0);
    col_text(st, 16, d->channel, sizeof d->channel);
    d->pin_release = col_int(st, 17, 0);
    d->offered_release = col_int(st, 18, 0);
    d->offered_ms = col_int(st, 19, 0);
    d->offer_downloads = col_int(st, 20, 0);
    d->running_release = col_int(st, 21, 0);
    col_text(st, 22, d->last_result, sizeof d->last_result);
    d->last_event_ms = col_int(st, 23, 0);
    col_text(st, 24, d->last_report, sizeof d->last_report);
    d->hold_release = col_int(st, 25, 0);
    d->hold_failures = col_int(st, 26, 0);
    d->hold_until_ms = col_int(st, 27, 0);
    col_text(st, 28, d->tool, sizeof d->tool);
    col_text(st, 29, d->url_channel, sizeof d->url_channel);
    col_text(st, 30, d->tags, sizeof d->tags);
}

/* Run a statement that returns no rows. */
static int exec_done(conn *c, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_CONSTRAINT)
        return UPD_STORE_ECONFLICT;
    (void)c;
    return UPD_STORE_EFAIL;
}

static int simple(conn *c, enum q q)
{
    sqlite3_stmt *st = stmt(c, q);
    return st ? exec_done(c, st) : UPD_STORE_EFAIL;
}

/* A write transaction: durable (normal 0: its commit is on disk before the caller
 * answers) or the writer's batch (1: synchronous=NORMAL). */
static int begin_as(conn *c, int normal)
{
    int rc = sync_mode(c, normal);
    return rc ? rc : simple(c, Q_BEGIN);
}

static int begin(conn *c)
{
    return begin_as(c, 0);
}

static int commit(conn *c)
{
    return simple(c, Q_COMMIT);
}

static void rollback(conn *c)
{
    simple(c, Q_ROLLBACK);
}

/* Insert the gathered events (in order: their ids follow it). */
static int flush_events(conn *c)
{
    int n = c->nev, rc = 0;
    c->nev = 0;
    if (n == 0)
        return 0;
    if (n < EV_ROWS) {
        for (int i = 0; i < n && rc == 0; i++) {
            pending_event *e = &c->ev[i];
            sqlite3_stmt *st = stmt(c, Q_EV_INSERT);
            if (!st)
                return UPD_STORE_EFAIL;
            sqlite3_bind_int64(st, 1, e->at);
            bind_text_or_null(st, 2, e->mac);
            sqlite3_bind_text(st, 3, e->kind, -1, SQLITE_STATIC);
            if (e->rel > 0)
                sqlite3_bind_int64(st, 4, e->rel);
            bind_int_or_null(st, 5, e->bytes);
            sqlite3_bind_text(st, 6, e->detail, -1, SQLITE_STATIC);
            rc = exec_done(c, st);
        }
        return rc;
    }
    sqlite3_stmt *st = stmt(c, Q_EV_INSERT_N);
    if (!st)
        return UPD_STORE_EFAIL;
    for (int i = 0; i < EV_ROWS; i++) {
        pending_event *e = &c->ev[i];
        int b = 6 * i;
        sqlite3_bind_int64(st, b + 1, e->at);
        if (e->mac[0])
            sqlite3_bind_text(st, b + 2, e->mac, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, b + 3, e->kind, -1, SQLITE_STATIC);
        if (e->rel > 0)
            sqlite3_bind_int64(st, b + 4, e->rel);
        if (e->bytes >= 0)
            sqlite3_bind_int64(st, b + 5, e->bytes);
        sqlite3_bind_text(st, b + 6, e->detail, -1, SQLITE_STATIC);
    }
    return exec_done(c, st);
}

static int add_event(conn *c, int64_t at, const char *mac, const char *kind, int64_t rel,
                     int64_t bytes, const char *detail)
{
    if (c->gather) {
        pending_event *e = &c->ev[c->nev++];
        e->at = at;
        e->rel = rel;
        e->bytes = bytes;
        e->kind = kind;
        size_t n = mac ? strnlen(mac, sizeof e->mac - 1) : 0;
        memcpy(e->mac, mac ? mac : "", n);
        e->mac[n] = '\0';
        n = detail ? strnlen(detail, sizeof e->detail - 1) : 0;
        memcpy(e->detail, detail ? detail : "", n);
        e->detail[n] = '\0';
        return c->nev == EV_ROWS ? flush_events(c) : 0;
    }
    sqlite3_stmt *st = stmt(c, Q_EV_INSERT);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_int64(st, 1, at);
    bind_text_or_null(st, 2, mac);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    if (rel > 0)
        sqlite3_bind_int64(st, 4, rel);
    bind_int_or_null(st, 5, bytes);
    sqlite3_bind_text(st, 6, detail ? detail : "", -1, SQLITE_TRANSIENT);
    return exec_done(c, st);
}

/* ---- releases ---------------------------------------------------------------------- */

static int get_release(conn *c, int64_t id, upd_release_row *out)
{
    sqlite3_stmt *st = stmt(c, Q_REL_GET);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_release(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
}

static int set_channel(conn *c, const char *name, const upd_release_row *r, int64_t at,
                       int downgrade)
{
    sqlite3_stmt *st = stmt(c, Q_CHAN_SET);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->platform, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->mode, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, r->id);
    sqlite3_bind_int64(st, 5, at);
    sqlite3_bind_int(st, 6, downgrade);
    int rc = exec_done(c, st);
    if (rc == 0) {
        char d[UPD_DETAIL_MAX];
        upd__evtext_channel_set(d, sizeof d, name, r, downgrade);
        rc = add_event(c, at, NULL, "channel-set", r->id, -1, d);
    }
    return rc;
}

/* The hash list of r (its id set) into release_hashes. */
static int insert_hashes(conn *c, const upd_release_row *r)
{
    for (int i = 0; i < r->nhash; i++) {
        sqlite3_stmt *st = stmt(c, Q_HASH_INSERT);
        if (!st)
            return UPD_STORE_EFAIL;
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_text(st, 2, r->hash[i].hex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, r->hash[i].what, -1, SQLITE_TRANSIENT);
        int rc = exec_done(c, st);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_release_set_hashes(upd_store *base, const upd_release_row *r, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    sqlite3_stmt *st = rc ? NULL : stmt(c, Q_HASH_CLEAR);
    if (!rc && !st)
        rc = UPD_STORE_EFAIL;
    if (!rc) {
        sqlite3_bind_int64(st, 1, r->id);
        rc = exec_done(c, st);
    }
    if (!rc)
        rc = insert_hashes(c, r);
    if (!rc && !(st = stmt(c, Q_REL_HASH_RULES)))
        rc = UPD_STORE_EFAIL;
    if (!rc) {
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_int(st, 2, r->hash_rules);
        rc = exec_done(c, st);
    }
    if (!rc)
        rc = commit(c);
    if (rc) {
        seterr(err, errlen, "could not record the release's hashes", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

static int bind_gzip(sqlite3_stmt *st, const upd_release_row *r)
{
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_text(st, 2, r->gz_sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->gz_md5, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, r->gz_size);
    sqlite3_bind_int64(st, 5, r->gz_min_stage);
    return 0;
}

static int s_release_set_gzip(upd_store *base, const upd_release_row *r, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_GZ_UPSERT);
    int rc = st ? bind_gzip(st, r) : UPD_STORE_EFAIL;
    if (!rc)
        rc = exec_done(c, st);
    if (rc)
        seterr(err, errlen, "could not record the release's gzip copy", c);
    release_conn(s, c);
    return rc;
}

static int s_release_insert(upd_store *base, upd_release_row *r, const char *channel, char *err,
                            size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    if (rc) {
        seterr(err, errlen, "could not start a transaction", c);
        release_conn(s, c);
        return rc;
    }
    r->created_ms = now_ms();
    if (channel && *channel)
        snprintf(r->channel, sizeof r->channel, "%s", channel);
    sqlite3_stmt *st = stmt(c, Q_REL_INSERT);
    if (!st) {
        rc = UPD_STORE_EFAIL;
        goto fail;
    }
    sqlite3_bind_text(st, 1, r->version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->platform, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->mode, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, r->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, r->chip, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, r->channel, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, r->filename, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 8, r->notes, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 9, r->md5, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 10, r->sha256, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 11, r->inner_md5, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 12, r->size);
    sqlite3_bind_int64(st, 13, r->inner_size);
    sqlite3_bind_int64(st, 14, r->created_ms);
    sqlite3_bind_int(st, 15, r->hash_rules);
    rc = exec_done(c, st);
    if (rc)
        goto fail;
    r->id = sqlite3_last_insert_rowid(c->db);
    if ((rc = insert_hashes(c, r)) != 0)
        goto fail;
    if (r->gz_size > 0) {
        if (!(st = stmt(c, Q_GZ_INSERT))) {
            rc = UPD_STORE_EFAIL;
            goto fail;
        }
        bind_gzip(st, r);
        if ((rc = exec_done(c, st)) != 0)
            goto fail;
    }
    {
        char d[UPD_DETAIL_MAX];
        upd__evtext_release_added(d, sizeof d, r);
        rc = add_event(c, r->created_ms, NULL, "release-added", r->id, r->size, d);
        if (rc)
            goto fail;
    }
    if (channel && *channel && (rc = set_channel(c, channel, r, r->created_ms, 0)) != 0)
        goto fail;
    if ((rc = commit(c)) != 0)
        goto fail;
    release_conn(s, c);
    return 0;
fail:
    seterr(err, errlen,
           rc == UPD_STORE_ECONFLICT ? "this image is already a release"
                                     : "could not record the release",
           c);
    rollback(c);
    release_conn(s, c);
    return rc;
}

static int s_release_get(upd_store *base, int64_t id, upd_release_row *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = get_release(c, id, out);
    release_conn(s, c);
    return rc;
}

static int release_by(upd_store *base, enum q q, const char *sha, upd_release_row *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, q);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, sha, -1, SQLITE_TRANSIENT);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW)
            read_release(st, out);
        rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
        sqlite3_reset(st);
    }
    release_conn(s, c);
    return rc;
}

static int s_release_by_sha256(upd_store *base, const char *sha, upd_release_row *out)
{
    return release_by(base, Q_REL_BY_SHA, sha, out);
}

static int s_release_by_hash(upd_store *base, const char *hex, upd_release_row *out)
{
    return release_by(base, Q_REL_BY_HASH, hex, out);
}

/* One step of a listing query: 1 with a row in st, 0 at the end or on an error (then
 * *rc is set). */
static int next_row(sqlite3_stmt *st, int *rc)
{
    int x = sqlite3_step(st);
    if (x == SQLITE_ROW)
        return 1;
    if (x != SQLITE_DONE)
        *rc = UPD_STORE_EFAIL;
    return 0;
}

static int s_release_list(upd_store *base, upd_release_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_REL_LIST);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    upd_release_row *r = malloc(sizeof *r);
    if (!r)
        rc = UPD_STORE_EFAIL;
    while (rc == 0 && next_row(st, &rc)) {
        read_release(st, r);
        if (cb(ctx, r))
            break;
    }
    if (st)
        sqlite3_reset(st);
    free(r);
    release_conn(s, c);
    return rc;
}

static int s_release_retire(upd_store *base, int64_t id, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    upd_release_row r;
    int rc = begin(c);
    if (rc)
        goto fail;
    if ((rc = get_release(c, id, &r)) != 0)
        goto fail;
    sqlite3_stmt *st = stmt(c, Q_REL_RETIRE);
    if (!st || (rc = (sqlite3_bind_int64(st, 1, id), exec_done(c, st))) != 0)
        goto fail;
    st = stmt(c, Q_REL_UNCHANNEL);
    if (!st || (rc = (sqlite3_bind_int64(st, 1, id), exec_done(c, st))) != 0)
        goto fail;
    char d[UPD_DETAIL_MAX];
    upd__evtext_release_retired(d, sizeof d, id, r.version, 1);
    if ((rc = add_event(c, now_ms(), NULL, "release-retired", id, -1, d)) != 0)
        goto fail;
    if ((rc = commit(c)) != 0)
        goto fail;
    release_conn(s, c);
    return 0;
fail:
    if (rc != UPD_STORE_ENOTFOUND)
        seterr(err, errlen, "could not retire the release", c);
    rollback(c);
    release_conn(s, c);
    return rc ? rc : UPD_STORE_EFAIL;
}

static int s_release_unretire(upd_store *base, int64_t id, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    upd_release_row *r = malloc(sizeof *r);
    int rc = r ? begin(c) : UPD_STORE_EFAIL;
    if (rc == 0 && (rc = get_release(c, id, r)) == 0) {
        sqlite3_stmt *st = stmt(c, Q_REL_UNRETIRE);
        char d[UPD_DETAIL_MAX];
        upd__evtext_release_retired(d, sizeof d, id, r->version, 0);
        if (!st)
            rc = UPD_STORE_EFAIL;
        else if ((rc = (sqlite3_bind_int64(st, 1, id), exec_done(c, st))) == 0 &&
                 (rc = add_event(c, now_ms(), NULL, "release-unretired", id, -1, d)) == 0)
            rc = commit(c);
    }
    if (rc) {
        if (rc != UPD_STORE_ENOTFOUND)
            seterr(err, errlen, "could not unretire the release", c);
        rollback(c);
    }
    free(r);
    release_conn(s, c);
    return rc;
}

static int s_release_set_notes(upd_store *base, int64_t id, const char *notes, char *err,
                               size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    upd_release_row *r = malloc(sizeof *r);
    int rc = r ? begin(c) : UPD_STORE_EFAIL;
    if (rc == 0 && (rc = get_release(c, id, r)) == 0) {
        sqlite3_stmt *st = stmt(c, Q_REL_NOTES);
        char d[UPD_DETAIL_MAX];
        upd__evtext_release_notes(d, sizeof d, id, r->version, strlen(notes));
        if (!st)
            rc = UPD_STORE_EFAIL;
        else if ((rc = (sqlite3_bind_int64(st, 1, id),
                        sqlite3_bind_text(st, 2, notes, -1, SQLITE_TRANSIENT), exec_done(c, st))) ==
                     0 &&
                 (rc = add_event(c, now_ms(), NULL, "release-notes", id, -1, d)) == 0)
            rc = commit(c);
    }
    if (rc) {
        if (rc != UPD_STORE_ENOTFOUND)
            seterr(err, errlen, "could not set the release's notes", c);
        rollback(c);
    }
    free(r);
    release_conn(s, c);
    return rc;
}

static int s_release_adoption(upd_store *base, upd_release_adoption_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_REL_ADOPTION);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    while (rc == 0 && next_row(st, &rc))
        if (cb(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
               sqlite3_column_int64(st, 2)))
            break;
    if (st)
        sqlite3_reset(st);
    release_conn(s, c);
    return rc;
}

/* One statement of q bound to the release id and run. */
static int exec_id(conn *c, enum q q, int64_t id)
{
    sqlite3_stmt *st = stmt(c, q);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_int64(st, 1, id);
    return exec_done(c, st);
}

static int s_release_delete(upd_store *base, int64_t id, int *channels, int *pins, char *err,
                            size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    upd_release_row *r = malloc(sizeof *r);
    *channels = *pins = 0;
    int rc = r ? begin(c) : UPD_STORE_EFAIL;
    if (rc == 0)
        rc = get_release(c, id, r);
    if (rc == 0) {
        sqlite3_stmt *st = stmt(c, Q_REL_USERS);
        if (!st)
            rc = UPD_STORE_EFAIL;
        else {
            sqlite3_bind_int64(st, 1, id);
            if (sqlite3_step(st) == SQLITE_ROW) {
                *channels = sqlite3_column_int(st, 0);
                *pins = sqlite3_column_int(st, 1);
            } else {
                rc = UPD_STORE_EFAIL;
            }
            sqlite3_reset(st);
        }
    }
    if (rc == 0 && (*channels || *pins))
        rc = UPD_STORE_ECONFLICT;
    if (rc == 0 && (rc = exec_id(c, Q_REL_FORGET, id)) == 0 &&
        (rc = exec_id(c, Q_REL_DELETE, id)) == 0 && (rc = exec_id(c, Q_REL_DELETE_GZ, id)) == 0 &&
        (rc = exec_id(c, Q_REL_DELETE_ROW, id)) == 0) {
        char d[UPD_DETAIL_MAX];
        upd__evtext_release_deleted(d, sizeof d, r);
        if ((rc = add_event(c, now_ms(), NULL, "release-deleted", id, -1, d)) == 0)
            rc = commit(c);
    }
    if (rc) {
        if (rc == UPD_STORE_EFAIL)
            seterr(err, errlen, "could not delete the release", c);
        rollback(c);
    }
    free(r);
    release_conn(s, c);
    return rc;
}

static int s_blob_referenced(upd_store *base, const char *sha)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_BLOB_REF);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, sha, -1, SQLITE_TRANSIENT);
        int x = sqlite3_step(st);
        rc = x == SQLITE_ROW ? 1 : x == SQLITE_DONE ? 0 : UPD_STORE_EFAIL;
        sqlite3_reset(st);
    }
    release_conn(s, c);
    return rc;
}

/* ---- channels ------------------------------------------------------------------------ */

/* channel_set, and channel_set_downgrade with downgrade 1. */
static int channel_set(upd_store *base, const char *name, int64_t id, int downgrade, char *err,
                       size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    upd_release_row r;
    int rc = begin(c);
    if (rc)
        goto fail;
    if ((rc = get_release(c, id, &r)) != 0)
        goto fail;
    if (r.retired) {
        if (err)
            upd__evtext_retired_refused(err, errlen, id, 0);
        rollback(c);
        release_conn(s, c);
        return UPD_STORE_ECONFLICT;
    }
    if ((rc = set_channel(c, name, &r, now_ms(), downgrade)) != 0 || (rc = commit(c)) != 0)
        goto fail;
    release_conn(s, c);
    return 0;
fail:
    if (rc != UPD_STORE_ENOTFOUND)
        seterr(err, errlen, "could not set the channel", c);
    rollback(c);
    release_conn(s, c);
    return rc;
}

static int s_channel_set(upd_store *base, const char *name, int64_t id, char *err, size_t errlen)
{
    return channel_set(base, name, id, 0, err, errlen);
}

static int s_channel_set_downgrade(upd_store *base, const char *name, int64_t id, char *err,
                                   size_t errlen)
{
    return channel_set(base, name, id, 1, err, errlen);
}

static int s_channel_current(upd_store *base, const char *name, const char *platform,
                             const char *mode, upd_release_row *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_CHAN_CURRENT);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, platform, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, mode, -1, SQLITE_TRANSIENT);
        int x = sqlite3_step(st);
        if (x == SQLITE_ROW) {
            read_release(st, out);
            out->channel_downgrade = sqlite3_column_int(st, 22) != 0; /* after REL_COLS */
        }
        rc = x == SQLITE_ROW ? 0 : x == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
        sqlite3_reset(st);
    }
    release_conn(s, c);
    return rc;
}

static int s_channel_list(upd_store *base, upd_channel_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_CHAN_LIST);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    while (rc == 0 && next_row(st, &rc)) {
        upd_channel_row ch;
        memset(&ch, 0, sizeof ch);
        col_text(st, 0, ch.name, sizeof ch.name);
        col_text(st, 1, ch.platform, sizeof ch.platform);
        col_text(st, 2, ch.mode, sizeof ch.mode);
        ch.release_id = col_int(st, 3, 0);
        col_text(st, 4, ch.version, sizeof ch.version);
        ch.updated_ms = col_int(st, 5, 0);
        col_text(st, 6, ch.chip, sizeof ch.chip);
        if (cb(ctx, &ch))
            break;
    }
    if (st)
        sqlite3_reset(st);
    release_conn(s, c);
    return rc;
}

static int s_channel_chip_get(upd_store *base, const char *name, char *out, size_t cap)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_CHIP_GET);
    int rc = UPD_STORE_EFAIL;
    out[0] = '\0';
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int x = sqlite3_step(st);
        if (x == SQLITE_ROW)
            col_text(st, 0, out, cap);
        rc = x == SQLITE_ROW ? 0 : x == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
        sqlite3_reset(st);
    }
    release_conn(s, c);
    return rc;
}

static int s_channel_key_get(upd_store *base, const char *name, char *pem, size_t cap,
                             char key_id[65])
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_KEY_GET);
    int rc = UPD_STORE_EFAIL;
    pem[0] = key_id[0] = '\0';
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        int x = sqlite3_step(st);
        if (x == SQLITE_ROW) {
            col_text(st, 0, pem, cap);
            col_text(st, 1, key_id, 65);
        }
        rc = x == SQLITE_ROW ? 0 : x == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
        sqlite3_reset(st);
    }
    release_conn(s, c);
    return rc;
}

static int s_channel_key_set(upd_store *base, const char *name, const char *pem, const char *key_id,
                             const char *desc, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    if (rc)
        goto fail;
    int clear = !pem || !pem[0];
    sqlite3_stmt *st = stmt(c, clear ? Q_KEY_DEL : Q_KEY_SET);
    if (!st) {
        rc = UPD_STORE_EFAIL;
        goto fail;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (!clear) {
        sqlite3_bind_text(st, 2, pem, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, key_id, -1, SQLITE_TRANSIENT);
    }
    if ((rc = exec_done(c, st)) != 0)
        goto fail;
    char d[UPD_DETAIL_MAX];
    upd__evtext_channel_signing(d, sizeof d, name, !clear, key_id, desc);
    if ((rc = add_event(c, now_ms(), NULL, "channel-signing", 0, -1, d)) != 0 ||
        (rc = commit(c)) != 0)
        goto fail;
    release_conn(s, c);
    return 0;
fail:
    seterr(err, errlen, "could not record the channel's signing key", c);
    rollback(c);
    release_conn(s, c);
    return rc ? rc : UPD_STORE_EFAIL;
}

static int s_channel_chip_set(upd_store *base, const char *name, const char *chip, char *err,
                              size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    if (rc)
        goto fail;
    int clear = !chip || !chip[0];
    sqlite3_stmt *st = stmt(c, clear ? Q_CHIP_DEL : Q_CHIP_SET);
    if (!st) {
        rc = UPD_STORE_EFAIL;
        goto fail;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    if (!clear)
        sqlite3_bind_text(st, 2, chip, -1, SQLITE_TRANSIENT);
    if ((rc = exec_done(c, st)) != 0)
        goto fail;
    char d[UPD_DETAIL_MAX];
    upd__evtext_channel_chip(d, sizeof d, name, clear ? NULL : chip);
    if ((rc = add_event(c, now_ms(), NULL, "channel-chip", 0, -1, d)) != 0 || (rc = commit(c)) != 0)
        goto fail;
    release_conn(s, c);
    return 0;
fail:
    seterr(err, errlen, "could not record the channel's chip", c);
    rollback(c);
    release_conn(s, c);
    return rc ? rc : UPD_STORE_EFAIL;
}

/* ---- devices ------------------------------------------------------------------------- */

/* The row at st (a Q_DEV_GET* statement on its row) into out, and with pre the columns
 * after it: what the device ran when its open offer was made. */
static void read_device_state(sqlite3_stmt *st, upd_device_row *out, upd_device_state *pre)
{
    read_device(st, out);
    if (pre) {
        col_text(st, DEV_NCOLS, pre->pre_md5, sizeof pre->pre_md5);
        col_text(st, DEV_NCOLS + 1, pre->pre_sha256, sizeof pre->pre_sha256);
        col_text(st, DEV_NCOLS + 2, pre->pre_version, sizeof pre->pre_version);
    }
}

/* The device row of mac into *out; with pre (out == &pre->row) also the image it ran
 * when the open offer was made (Q_DEV_GET_PRE). 0, UPD_STORE_ENOTFOUND or EFAIL. */
static int read_device_row(conn *c, const char *mac, upd_device_row *out, upd_device_state *pre)
{
    sqlite3_stmt *st = stmt(c, pre ? Q_DEV_GET_PRE : Q_DEV_GET);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_device_state(st, out, pre);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
}

static int s_device_get(upd_store *base, const char *mac, upd_device_row *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = read_device_row(c, mac, out, NULL);
    release_conn(s, c);
    return rc;
}

/* The parameters of DEV_FILTER (store op device_scan). */
static void bind_filter(sqlite3_stmt *st, const upd_device_filter *f)
{
    bind_text_or_null(st, 1, f ? f->channel : NULL);
    bind_text_or_null(st, 2, f ? f->platform : NULL);
    bind_text_or_null(st, 3, f ? f->version : NULL);
    sqlite3_bind_int64(st, 4, f ? f->seen_since_ms : 0);
    sqlite3_bind_int(st, 6, f ? f->attention : 0);
    sqlite3_bind_int64(st, 7, f && f->pinned_to > 0 ? f->pinned_to : 0);
    bind_text_or_null(st, 9, f ? f->tool : NULL);
}

/* A device listing's statement (store_devsql.h), prepared for this call with its
 * parameters bound; NULL on an error. */
static sqlite3_stmt *devsql_stmt(conn *c, int kind, const upd_device_filter *f, int narrow)
{
    upd_devsql *q = malloc(sizeof *q);
    sqlite3_stmt *st = NULL;
    if (!q || upd__devsql_build(q, UPD_DEVSQL_SQLITE, kind, DEV_COLS, f, narrow) != 0) {
        free(q);
        return NULL;
    }
    if (sqlite3_prepare_v2(c->db, q->sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "updraft: SQL prepare failed (%s): %s\n", sqlite3_errmsg(c->db), q->sql);
        st = NULL;
    }
    for (int i = 0; st && i < q->nparam; i++)
        if (q->param[i].is_text)
            sqlite3_bind_text(st, i + 1, q->param[i].text, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_int64(st, i + 1, q->param[i].num);
    upd__devsql_free(q);
    free(q);
    return st;
}

/* The devices f selects: MAC and tag conditions from their indexes alone. */
static int count_devices(conn *c, const upd_device_filter *f, int64_t *out)
{
    sqlite3_stmt *st = devsql_stmt(c, UPD_DEVSQL_COUNT, f, 1);
    int rc = UPD_STORE_EFAIL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

static int s_device_count(upd_store *base, const upd_device_filter *f, int64_t *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = count_devices(c, f, out);
    release_conn(s, c);
    return rc;
}

static int s_device_versions(upd_store *base, const upd_device_filter *f,
                             int (*cb)(void *ctx, const char *version, int64_t devices), void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = devsql_stmt(c, f ? UPD_DEVSQL_VERSIONS : UPD_DEVSQL_DISTINCT, f, 1);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    while (rc == 0 && next_row(st, &rc)) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        if (v && cb(ctx, (const char *)v, sqlite3_column_int64(st, 1)))
            break;
    }
    sqlite3_finalize(st);
    release_conn(s, c);
    return rc;
}

static int s_device_list(upd_store *base, const upd_device_filter *f, upd_device_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    /* a search that selects few devices starts from them; one that selects many reads
     * the order's index and stops at the page's end (store_devsql.h) */
    int64_t n = f && f->counted > 0 ? f->counted - 1 : 0;
    int narrow =
        upd__devsql_searches(f) && (f->counted > 0 || count_devices(c, f, &n) == 0) && n <= 5000;
    sqlite3_stmt *st = devsql_stmt(c, UPD_DEVSQL_LIST, f, narrow);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    upd_device_row *d = malloc(sizeof *d);
    if (!d)
        rc = UPD_STORE_EFAIL;
    while (rc == 0 && next_row(st, &rc)) {
        read_device(st, d);
        if (cb(ctx, d))
            break;
    }
    sqlite3_finalize(st);
    free(d);
    release_conn(s, c);
    return rc;
}

/* The columns of DEV_SCAN_COLS into d, whose other fields the caller cleared. */
static void read_device_scan(sqlite3_stmt *st, upd_device_row *d)
{
    col_text(st, 0, d->mac, sizeof d->mac);
    col_text(st, 1, d->family, sizeof d->family);
    col_text(st, 2, d->version, sizeof d->version);
    col_text(st, 3, d->sketch_md5, sizeof d->sketch_md5);
    col_text(st, 4, d->sketch_sha256, sizeof d->sketch_sha256);
    d->last_seen_ms = col_int(st, 5, 0);
    col_text(st, 6, d->channel, sizeof d->channel);
    d->pin_release = col_int(st, 7, 0);
    d->running_release = col_int(st, 8, 0);
    d->hold_release = col_int(st, 9, 0);
    d->hold_failures = col_int(st, 10, 0);
    d->hold_until_ms = col_int(st, 11, 0);
    col_text(st, 12, d->tool, sizeof d->tool);
    col_text(st, 13, d->url_channel, sizeof d->url_channel);
    col_text(st, 14, d->tags, sizeof d->tags);
}

static int s_device_scan(upd_store *base, const upd_device_filter *f, upd_device_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_DEV_SCAN);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    upd_device_row *d = calloc(1, sizeof *d);
    if (!d)
        rc = UPD_STORE_EFAIL;
    if (rc == 0) {
        bind_filter(st, f);
        d->sketch_size = d->free_space = d->chip_size = -1;
    }
    while (rc == 0 && next_row(st, &rc)) {
        read_device_scan(st, d);
        if (cb(ctx, d))
            break;
    }
    if (st)
        sqlite3_reset(st);
    free(d);
    release_conn(s, c);
    return rc;
}

static int ensure_device(conn *c, const char *mac)
{
    sqlite3_stmt *st = stmt(c, Q_DEV_ENSURE);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_TRANSIENT);
    return exec_done(c, st);
}

static int s_device_set_pin(upd_store *base, const char *mac, int64_t id, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    upd_release_row r;
    char d[UPD_DETAIL_MAX];
    int rc = begin(c);
    if (rc)
        goto fail;
    if (id > 0) {
        if ((rc = get_release(c, id, &r)) != 0)
            goto fail;
        if (r.retired) {
            if (err)
                upd__evtext_retired_refused(err, errlen, id, 1);
            rollback(c);
            release_conn(s, c);
            return UPD_STORE_ECONFLICT;
        }
    }
    upd__evtext_pin(d, sizeof d, id, id > 0 ? r.version : "");
    if ((rc = ensure_device(c, mac)) != 0)
        goto fail;
    sqlite3_stmt *st = stmt(c, Q_DEV_PIN);
    if (!st) {
        rc = UPD_STORE_EFAIL;
        goto fail;
    }
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_TRANSIENT);
    if (id > 0)
        sqlite3_bind_int64(st, 2, id);
    if ((rc = exec_done(c, st)) != 0)
        goto fail;
    if ((rc = add_event(c, now_ms(), mac, id > 0 ? "pinned" : "unpinned", id, -1, d)) != 0 ||
        (rc = commit(c)) != 0)
        goto fail;
    release_conn(s, c);
    return 0;
fail:
    if (rc != UPD_STORE_ENOTFOUND)
        seterr(err, errlen, "could not pin the device", c);
    rollback(c);
    release_conn(s, c);
    return rc;
}

static int write_hold(conn *c, const char *mac, const upd_plan *p);

static int s_device_clear_hold(upd_store *base, const char *mac, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    upd_device_row d;
    char detail[UPD_DETAIL_MAX];
    int rc = begin(c);
    if (rc == 0 && (rc = read_device_row(c, mac, &d, NULL)) == 0) {
        upd_plan p;
        memset(&p, 0, sizeof p);
        p.set_hold = 1;
        upd__evtext_retry(detail, sizeof detail, d.hold_release, d.hold_failures);
        /* the downloads before the retry do not count again */
        sqlite3_stmt *st = stmt(c, Q_DEV_FAILED_RESET);
        if (st)
            sqlite3_bind_text(st, 1, mac, -1, SQLITE_TRANSIENT);
        if ((rc = write_hold(c, mac, &p)) == 0 &&
            (rc = st ? exec_done(c, st) : UPD_STORE_EFAIL) == 0 &&
            (rc = add_event(c, now_ms(), mac, "retry", d.hold_release, -1, detail)) == 0)
            rc = commit(c);
    }
    if (rc) {
        if (rc != UPD_STORE_ENOTFOUND)
            seterr(err, errlen, "could not clear the device's hold", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

static int s_device_set_channel(upd_store *base, const char *mac, const char *channel, char *err,
                                size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    char d[UPD_DETAIL_MAX];
    int rc = begin(c);
    if (rc || (rc = ensure_device(c, mac)) != 0)
        goto fail;
    sqlite3_stmt *st = stmt(c, Q_DEV_CHANNEL);
    if (!st) {
        rc = UPD_STORE_EFAIL;
        goto fail;
    }
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_TRANSIENT);
    bind_text_or_null(st, 2, channel);
    if ((rc = exec_done(c, st)) != 0)
        goto fail;
    upd__evtext_channel_assigned(d, sizeof d, channel);
    if ((rc = add_event(c, now_ms(), mac, "channel-assigned", 0, -1, d)) != 0 ||
        (rc = commit(c)) != 0)
        goto fail;
    release_conn(s, c);
    return 0;
fail:
    seterr(err, errlen, "could not set the device's channel", c);
    rollback(c);
    release_conn(s, c);
    return rc ? rc : UPD_STORE_EFAIL;
}

static int s_event_list(upd_store *base, const char *mac, const char *kind, int64_t before,
                        int limit, upd_event_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int by_kind = !(mac && mac[0]) && kind && kind[0];
    sqlite3_stmt *st = stmt(c, mac && mac[0] ? Q_EV_LIST_MAC
                               : by_kind     ? Q_EV_LIST_KIND
                                             : Q_EV_LIST);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    if (rc == 0) {
        bind_text_or_null(st, 1, mac);
        bind_text_or_null(st, 2, kind);
        sqlite3_bind_int64(st, 3, before > 0 ? before : by_kind ? INT64_MAX : 0);
        sqlite3_bind_int(st, 4, limit > 0 ? limit : 100);
    }
    while (rc == 0 && next_row(st, &rc)) {
        upd_event_row e;
        memset(&e, 0, sizeof e);
        e.id = sqlite3_column_int64(st, 0);
        e.at_ms = col_int(st, 1, 0);
        col_text(st, 2, e.mac, sizeof e.mac);
        col_text(st, 3, e.kind, sizeof e.kind);
        e.release_id = col_int(st, 4, 0);
        e.bytes = col_int(st, 5, -1);
        col_text(st, 6, e.detail, sizeof e.detail);
        col_text(st, 7, e.actor, sizeof e.actor);
        col_text(st, 8, e.source, sizeof e.source);
        if (cb(ctx, &e))
            break;
    }
    if (st)
        sqlite3_reset(st);
    release_conn(s, c);
    return rc;
}

static int s_event_add(upd_store *base, const upd_event_row *e, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_EV_ADD);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_int64(st, 1, e->at_ms);
        bind_text_or_null(st, 2, e->mac);
        sqlite3_bind_text(st, 3, e->kind, -1, SQLITE_TRANSIENT);
        if (e->release_id > 0)
            sqlite3_bind_int64(st, 4, e->release_id);
        bind_int_or_null(st, 5, e->bytes);
        sqlite3_bind_text(st, 6, e->detail, -1, SQLITE_TRANSIENT);
        bind_text_or_null(st, 7, e->actor);
        bind_text_or_null(st, 8, e->source);
        rc = exec_done(c, st);
    }
    if (rc)
        seterr(err, errlen, "could not record the event", c);
    release_conn(s, c);
    return rc;
}

/* ---- API tokens ----------------------------------------------------------------------- */

static void read_token(sqlite3_stmt *st, upd_token_row *t)
{
    memset(t, 0, sizeof *t);
    col_text(st, 0, t->name, sizeof t->name);
    col_text(st, 1, t->role, sizeof t->role);
    col_text(st, 2, t->channels, sizeof t->channels);
    col_text(st, 3, t->key_id, sizeof t->key_id);
    col_text(st, 4, t->hash, sizeof t->hash);
    t->created_ms = col_int(st, 5, 0);
    col_text(st, 6, t->created_by, sizeof t->created_by);
    t->expires_ms = col_int(st, 7, 0);
    t->last_used_ms = col_int(st, 8, 0);
    col_text(st, 9, t->last_used_from, sizeof t->last_used_from);
}

static int s_token_insert(upd_store *base, const upd_token_row *t, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_TOK_INSERT);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, t->role, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, t->channels, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, t->key_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, t->hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, t->created_ms);
        sqlite3_bind_text(st, 7, t->created_by, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 8, t->expires_ms);
        rc = exec_done(c, st);
    }
    if (rc == UPD_STORE_ECONFLICT)
        snprintf(err, errlen, "a token named '%s' exists", t->name);
    else if (rc)
        seterr(err, errlen, "could not store the token", c);
    release_conn(s, c);
    return rc;
}

static int s_token_by_key(upd_store *base, const char *key_id, upd_token_row *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_TOK_BY_KEY);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, key_id, -1, SQLITE_TRANSIENT);
        int x = sqlite3_step(st);
        if (x == SQLITE_ROW)
            read_token(st, out);
        rc = x == SQLITE_ROW ? 0 : x == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
        sqlite3_reset(st);
    }
    release_conn(s, c);
    return rc;
}

static int s_token_list(upd_store *base, upd_token_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_TOK_LIST);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    while (rc == 0 && next_row(st, &rc)) {
        upd_token_row t;
        read_token(st, &t);
        if (cb(ctx, &t))
            break;
    }
    if (st)
        sqlite3_reset(st);
    release_conn(s, c);
    return rc;
}

static int s_token_delete(upd_store *base, const char *name, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_TOK_DELETE);
    int rc = st ? 0 : UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        rc = exec_done(c, st);
        if (rc == 0 && sqlite3_changes(c->db) == 0)
            rc = strcmp(name, "admin-token") ? UPD_STORE_ENOTFOUND : UPD_STORE_ECONFLICT;
    }
    if (rc == UPD_STORE_EFAIL)
        seterr(err, errlen, "could not delete the token", c);
    release_conn(s, c);
    return rc;
}

static int s_token_touch(upd_store *base, const upd_token_use *uses, size_t n, char *err,
                         size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_stmt *st = stmt(c, Q_TOK_TOUCH);
        if (!st) {
            rc = UPD_STORE_EFAIL;
            break;
        }
        sqlite3_bind_text(st, 1, uses[i].name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, uses[i].at_ms);
        sqlite3_bind_text(st, 3, uses[i].from, -1, SQLITE_TRANSIENT);
        rc = exec_done(c, st);
    }
    if (rc == 0)
        rc = commit(c);
    if (rc) {
        seterr(err, errlen, "could not record the tokens' use", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

/* ---- dashboard sessions ------------------------------------------------------------- */

static int s_session_insert(upd_store *base, const upd_session_row *x, int64_t now_ms,
                            int64_t idle_before_ms, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    sqlite3_stmt *st = rc ? NULL : stmt(c, Q_SES_PRUNE);
    if (!rc && !st)
        rc = UPD_STORE_EFAIL;
    if (!rc) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, idle_before_ms);
        rc = exec_done(c, st);
    }
    if (!rc && !(st = stmt(c, Q_SES_INSERT)))
        rc = UPD_STORE_EFAIL;
    if (!rc) {
        sqlite3_bind_text(st, 1, x->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, x->csrf, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, x->token_name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, x->token_key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, x->token_hash, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 6, x->created_ms);
        sqlite3_bind_int64(st, 7, x->last_ms);
        sqlite3_bind_int64(st, 8, x->expires_ms);
        sqlite3_bind_text(st, 9, x->ip, -1, SQLITE_TRANSIENT);
        rc = exec_done(c, st);
    }
    if (rc == 0)
        rc = commit(c);
    if (rc) {
        seterr(err, errlen, "could not store the session", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

static int s_session_get(upd_store *base, const char *id, upd_session_row *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_SES_GET);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        int x = sqlite3_step(st);
        if (x == SQLITE_ROW) {
            memset(out, 0, sizeof *out);
            col_text(st, 0, out->id, sizeof out->id);
            col_text(st, 1, out->csrf, sizeof out->csrf);
            col_text(st, 2, out->token_name, sizeof out->token_name);
            col_text(st, 3, out->token_key, sizeof out->token_key);
            col_text(st, 4, out->token_hash, sizeof out->token_hash);
            out->created_ms = col_int(st, 5, 0);
            out->last_ms = col_int(st, 6, 0);
            out->expires_ms = col_int(st, 7, 0);
            col_text(st, 8, out->ip, sizeof out->ip);
        }
        rc = x == SQLITE_ROW ? 0 : x == SQLITE_DONE ? UPD_STORE_ENOTFOUND : UPD_STORE_EFAIL;
        sqlite3_reset(st);
    }
    release_conn(s, c);
    return rc;
}

static int s_session_touch(upd_store *base, const char *id, int64_t last_ms)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, Q_SES_TOUCH);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, last_ms);
        rc = exec_done(c, st);
    }
    release_conn(s, c);
    return rc;
}

static int s_session_delete(upd_store *base, const char *id, const char *token_name, int64_t *n)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = stmt(c, id ? Q_SES_DEL : Q_SES_DEL_TOKEN);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_text(st, 1, id ? id : token_name, -1, SQLITE_TRANSIENT);
        rc = exec_done(c, st);
        if (n)
            *n = rc == 0 ? sqlite3_changes(c->db) : 0;
    }
    release_conn(s, c);
    return rc;
}

/* ---- the writer thread's batches ------------------------------------------------------ */

/* The statement that records a check-in on the device row, bound and ready to step:
 * the upsert, or when the row already holds the request's facts (seen: the usual
 * check of a device that reports what it reported before) a plain UPDATE of the times
 * and the result, much cheaper. event: also set last_result/last_event_ms. */
static sqlite3_stmt *bind_upsert(conn *c, const upd_record *rec, int seen, int event)
{
    const upd_device_row *d = &rec->dev;
    sqlite3_stmt *st;
    if (seen) {
        if (!(st = stmt(c, Q_DEV_SEEN)))
            return NULL;
        sqlite3_bind_text(st, 1, d->mac, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, rec->at_ms);
        if (event) {
            sqlite3_bind_text(st, 3, rec->detail, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 4, rec->at_ms);
        }
        return st;
    }
    if (!(st = stmt(c, Q_DEV_UPSERT)))
        return NULL;
    sqlite3_bind_text(st, 1, d->mac, -1, SQLITE_STATIC);
    bind_static_or_null(st, 2, d->ap_mac);
    bind_static_or_null(st, 3, d->family);
    bind_static_or_null(st, 4, d->chip_id);
    bind_static_or_null(st, 5, d->sdk);
    bind_static_or_null(st, 6, d->version);
    bind_int_or_null(st, 7, d->sketch_size);
    bind_static_or_null(st, 8, d->sketch_md5);
    bind_static_or_null(st, 9, d->sketch_sha256);
    bind_int_or_null(st, 10, d->free_space);
    bind_int_or_null(st, 11, d->chip_size);
    bind_static_or_null(st, 12, d->mode);
    bind_static_or_null(st, 13, d->ip);
    bind_static_or_null(st, 14, d->user_agent);
    sqlite3_bind_int64(st, 15, rec->at_ms);
    bind_static_or_null(st, 18, d->tool);
    bind_static_or_null(st, 19, d->url_channel);
    if (event) {
        sqlite3_bind_text(st, 16, rec->detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 17, rec->at_ms);
    }
    return st;
}

/* Write the hold of a plan. */
static int write_hold(conn *c, const char *mac, const upd_plan *p)
{
    if (!p->set_hold)
        return 0;
    sqlite3_stmt *st = stmt(c, Q_DEV_HOLD);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_TRANSIENT);
    if (p->hold_release > 0)
        sqlite3_bind_int64(st, 2, p->hold_release);
    sqlite3_bind_int64(st, 3, p->hold_failures);
    sqlite3_bind_int64(st, 4, p->hold_until_ms);
    return exec_done(c, st);
}

static int write_plan_events(conn *c, const upd_record *rec, const char *mac, const upd_plan *p)
{
    int rc = 0;
    for (int i = 0; i < p->nev && rc == 0; i++)
        rc = add_event(c, rec->at_ms, mac, p->ev[i].kind, p->ev[i].release, -1, p->ev[i].detail);
    return rc;
}

/* Write the rollout state of a plan. */
static int write_rollout_state(conn *c, const char *mac, int64_t at_ms, const upd_plan *p)
{
    if (p->rollout_id <= 0 || !p->rollout_state)
        return 0;
    sqlite3_stmt *st = stmt(c, Q_RO_DEV_PUT);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_int64(st, 1, p->rollout_id);
    sqlite3_bind_text(st, 2, mac, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, p->rollout_state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, at_ms);
    return exec_done(c, st);
}

/* The release id as apply_checkin judges a check-in against it, read once per batch: a batch
 * is one write transaction (BEGIN IMMEDIATE), so no release changes under it, and the
 * check-ins after offers name the same few releases (reading one, its hash list gathered,
 * was an eighth of the writer's instructions per /update download). *out: the row, or NULL
 * when it cannot be read (no such release: as get_release failing). -1 when out of memory. */
#define BREL_MAX 4

static int batch_release(conn *c, int64_t id, const upd_release_row **out)
{
    *out = NULL;
    for (int i = 0; i < c->nbrel; i++)
        if (c->brel[i].id == id) {
            *out = &c->brel[i];
            return 0;
        }
    if (!c->brel && !(c->brel = malloc(BREL_MAX * sizeof *c->brel)))
        return -1;
    int slot = c->nbrel < BREL_MAX ? c->nbrel : BREL_MAX - 1; /* full: the last one goes */
    /* get_release writes the slot only when it found the release */
    if (get_release(c, id, &c->brel[slot]) != 0)
        return 0;
    if (slot == c->nbrel)
        c->nbrel++;
    *out = &c->brel[slot];
    return 0;
}

static int apply_checkin(conn *c, const upd_record *rec, const upd_rules *rules)
{
    const upd_device_row *d = &rec->dev;
    upd_device_state oldst;
    const upd_device_row *old = &oldst.row;
    int have_old = read_device_row(c, d->mac, &oldst.row, &oldst) == 0;
    const upd_release_row *offered = NULL;
    if (have_old && old->offered_release > 0 &&
        batch_release(c, old->offered_release, &offered) != 0)
        return UPD_STORE_EFAIL;
    upd_plan *p = malloc(sizeof *p);
    if (!p)
        return UPD_STORE_EFAIL;
    rules->checkin(rules->ctx, rec, have_old ? &oldst : NULL, offered, p);
    int rc = 0;
    sqlite3_stmt *st = bind_upsert(c, rec, p->facts_known, p->write_event);
    if (!st || (rc = exec_done(c, st)) != 0)
        goto out;
    if (p->updated > 0 || p->failed) {
        if (!(st = stmt(c, p->updated > 0 ? Q_DEV_UPDATED : Q_DEV_FAILED_RESET))) {
            rc = UPD_STORE_EFAIL;
            goto out;
        }
        sqlite3_bind_text(st, 1, d->mac, -1, SQLITE_TRANSIENT);
        if (p->updated > 0)
            sqlite3_bind_int64(st, 2, p->updated);
        if ((rc = exec_done(c, st)) != 0)
            goto out;
    }
    if ((rc = write_hold(c, d->mac, p)) != 0)
        goto out;
    if ((rc = write_rollout_state(c, d->mac, rec->at_ms, p)) != 0)
        goto out;
    if (p->record_report) {
        if (!(st = stmt(c, Q_DEV_REPORT))) {
            rc = UPD_STORE_EFAIL;
            goto out;
        }
        sqlite3_bind_text(st, 1, d->mac, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, rec->report, -1, SQLITE_TRANSIENT);
        if ((rc = exec_done(c, st)) != 0)
            goto out;
    }
    if ((rc = write_plan_events(c, rec, d->mac, p)) != 0)
        goto out;
    if (p->open_offer || p->set_running) {
        if (!(st = stmt(c, p->open_offer ? Q_DEV_OFFER : Q_DEV_RUNNING))) {
            rc = UPD_STORE_EFAIL;
            goto out;
        }
        sqlite3_bind_text(st, 1, d->mac, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, rec->release_id);
        if (p->open_offer) {
            sqlite3_bind_int64(st, 3, rec->at_ms);
            bind_text_or_null(st, 4, d->sketch_md5);
            bind_text_or_null(st, 5, d->sketch_sha256);
            bind_text_or_null(st, 6, d->version);
        }
        if ((rc = exec_done(c, st)) != 0)
            goto out;
    }
    if (p->write_event)
        rc = add_event(c, rec->at_ms, d->mac, p->kind, rec->release_id, -1, rec->detail);
out:
    free(p);
    return st || rc ? rc : UPD_STORE_EFAIL;
}

/* A download-started or download-completed record: its event, and for a completed download
 * of the release the device was offered, the count of downloads since the offer, then the
 * fleet's rules on the row as it is now. The row is read first and updated by its rowid: one
 * seek through the MAC's index per download, not two (the batch is one write transaction,
 * so the row read is the row updated). */
static int apply_download(conn *c, const upd_record *rec, const upd_rules *rules)
{
    int rc =
        add_event(c, rec->at_ms, rec->mac, rec->event, rec->release_id, rec->bytes, rec->detail);
    if (rc || !rec->mac[0] || strcmp(rec->event, "download-completed"))
        return rc;
    sqlite3_stmt *st = stmt(c, Q_DEV_GET_OFFERED);
    if (!st)
        return UPD_STORE_EFAIL;
    sqlite3_bind_text(st, 1, rec->mac, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, rec->release_id);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        return step == SQLITE_DONE ? 0 : UPD_STORE_EFAIL; /* not the release offered to it */
    }
    upd_device_state *now = malloc(sizeof *now);
    upd_plan *p = malloc(sizeof *p);
    if (!now || !p) {
        sqlite3_reset(st);
        free(now);
        free(p);
        return UPD_STORE_EFAIL;
    }
    read_device_state(st, &now->row, now);
    int64_t rowid = sqlite3_column_int64(st, DEV_NCOLS + 3);
    sqlite3_reset(st);
    if (!(st = stmt(c, Q_DEV_DOWNLOADED))) {
        rc = UPD_STORE_EFAIL;
        goto out;
    }
    sqlite3_bind_int64(st, 1, rowid);
    if ((rc = exec_done(c, st)) != 0)
        goto out;
    now->row.offer_downloads++; /* what the row holds now */
    rules->downloaded(rules->ctx, rec, now, p);
    rc = write_hold(c, rec->mac, p);
    if (rc == 0)
        rc = write_rollout_state(c, rec->mac, rec->at_ms, p);
    if (rc == 0)
        rc = write_plan_events(c, rec, rec->mac, p);
out:
    free(now);
    free(p);
    return rc;
}

static int s_events_prune(upd_store *base, int64_t before_ms, int max)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire_as(s, 1); /* the writer's housekeeping: lost by a power cut, done again */
    sqlite3_stmt *st = stmt(c, Q_EV_PRUNE);
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_int64(st, 1, before_ms);
        sqlite3_bind_int(st, 2, max);
        if (exec_done(c, st) == 0)
            rc = sqlite3_changes(c->db);
    }
    release_conn(s, c);
    return rc;
}

/* One number from a query (0 when it fails or has no row). */
static int64_t query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Statistics are gathered again when a table holds STATS_MIN_ROWS rows or more and twice or
 * half as many as when they were last gathered (or never were): below that size every plan
 * is fast, and the query planner's choices change with the proportions, not with each row. */
#define STATS_MIN_ROWS 1000
#define STATS_LIMIT    "1000" /* rows ANALYZE reads per index (PRAGMA analysis_limit) */

static int stats_stale(sqlite3 *db, const char *tbl, const char *rows_sql)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "SELECT CAST(stat AS INTEGER) FROM sqlite_stat1 WHERE tbl='%s' AND idx IS NOT NULL "
             "LIMIT 1",
             tbl);
    int64_t then = query_int(db, sql); /* 0 also when sqlite_stat1 does not exist yet */
    int64_t now = query_int(db, rows_sql);
    return now >= STATS_MIN_ROWS && (then == 0 || now > 2 * then || 2 * now < then);
}

static int s_refresh_stats(upd_store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = 0;
    if (stats_stale(c->db, "devices", "SELECT count(*) FROM devices") ||
        stats_stale(c->db, "events", "SELECT coalesce(max(id) - min(id) + 1, 0) FROM events")) {
        rc = sqlite3_exec(c->db, "PRAGMA analysis_limit=" STATS_LIMIT "; ANALYZE", NULL, NULL,
                          NULL) == SQLITE_OK
                 ? 1
                 : UPD_STORE_EFAIL;
        if (rc == 1)
            c->stats_gen = atomic_fetch_add(&s->stats_gen, 1) + 1; /* the others reload */
    }
    release_conn(s, c);
    return rc;
}

static int s_apply_batch(upd_store *base, const upd_record *recs, size_t n, const upd_rules *rules,
                         char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire_as(s, 1);
    int rc = begin_as(c, 1);
    c->gather = 1;
    c->nev = 0;
    c->nbrel = 0; /* read afresh in each transaction */
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = recs[i].type == UPD_REC_CHECKIN ? apply_checkin(c, &recs[i], rules)
                                             : apply_download(c, &recs[i], rules);
    if (rc == 0)
        rc = flush_events(c);
    c->gather = 0;
    c->nev = 0;
    c->nbrel = 0;
    if (rc == 0)
        rc = commit(c);
    if (rc) {
        seterr(err, errlen, "could not write device records", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

/* ---- rollouts ---------------------------------------------------------------------------- */

#define RO_COLS                                                                                    \
    "id, release_id, target, rollback_of, waves, thresholds, max_fail_bp, max_fail_count, "        \
    "min_success, min_sample, soak_ms, silent_ms, win, tz, allow_downgrade, start_at_ms, "         \
    "webhook, "                                                                                    \
    "state, wave, wave_opened_ms, reason, created_ms, updated_ms, created_by, health_from_ms"

static void read_rollout(sqlite3_stmt *st, upd_rollout_row *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->release_id = col_int(st, 1, 0);
    col_text(st, 2, r->target, sizeof r->target);
    r->rollback_of = col_int(st, 3, 0);
    col_text(st, 4, r->waves, sizeof r->waves);
    col_text(st, 5, r->thresholds, sizeof r->thresholds);
    r->max_fail_bp = col_int(st, 6, -1);
    r->max_fail_count = col_int(st, 7, -1);
    r->min_success = col_int(st, 8, 0);
    r->min_sample = col_int(st, 9, 0);
    r->soak_ms = col_int(st, 10, 0);
    r->silent_ms = col_int(st, 11, 0);
    col_text(st, 12, r->window, sizeof r->window);
    col_text(st, 13, r->tz, sizeof r->tz);
    r->allow_downgrade = (int)col_int(st, 14, 0);
    r->start_at_ms = col_int(st, 15, 0);
    col_text(st, 16, r->webhook, sizeof r->webhook);
    col_text(st, 17, r->state, sizeof r->state);
    r->wave = (int)col_int(st, 18, 0);
    r->wave_opened_ms = col_int(st, 19, 0);
    col_text(st, 20, r->reason, sizeof r->reason);
    r->created_ms = col_int(st, 21, 0);
    r->updated_ms = col_int(st, 22, 0);
    col_text(st, 23, r->created_by, sizeof r->created_by);
    r->health_from_ms = col_int(st, 24, 0);
}

/* Prepare sql on c (admin statements: not kept). */
static sqlite3_stmt *prep(conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : UPD_STORE_EFAIL;
}

static int s_rollout_insert(upd_store *base, upd_rollout_row *r, const char *kind,
                            const char *detail, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int64_t now = now_ms();
    int rc = begin(c);
    sqlite3_stmt *st = rc ? NULL
                          : prep(c, "INSERT INTO rollouts(release_id, target, rollback_of, waves, "
                                    "thresholds, max_fail_bp, max_fail_count, min_success, "
                                    "min_sample, soak_ms, silent_ms, win, tz, allow_downgrade, "
                                    "start_at_ms, webhook, state, wave, wave_opened_ms, reason, "
                                    "created_ms, updated_ms, created_by) VALUES(?1,?2,?3,?4,?5,"
                                    "?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,"
                                    "?21,?21,?22)");
    if (!rc && !st)
        rc = UPD_STORE_EFAIL;
    if (!rc) {
        sqlite3_bind_int64(st, 1, r->release_id);
        sqlite3_bind_text(st, 2, r->target, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r->rollback_of);
        sqlite3_bind_text(st, 4, r->waves, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->thresholds, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, r->max_fail_bp);
        sqlite3_bind_int64(st, 7, r->max_fail_count);
        sqlite3_bind_int64(st, 8, r->min_success);
        sqlite3_bind_int64(st, 9, r->min_sample);
        sqlite3_bind_int64(st, 10, r->soak_ms);
        sqlite3_bind_int64(st, 11, r->silent_ms);
        sqlite3_bind_text(st, 12, r->window, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, r->tz, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 14, r->allow_downgrade);
        sqlite3_bind_int64(st, 15, r->start_at_ms);
        sqlite3_bind_text(st, 16, r->webhook, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 17, r->state, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 18, r->wave);
        sqlite3_bind_int64(st, 19, r->wave_opened_ms);
        sqlite3_bind_text(st, 20, r->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 21, now);
        sqlite3_bind_text(st, 22, r->created_by, -1, SQLITE_STATIC);
        rc = step_done(st);
    }
    if (!rc) {
        r->id = sqlite3_last_insert_rowid(c->db);
        r->created_ms = r->updated_ms = now;
        char d[UPD_DETAIL_MAX];
        upd__evtext_rollout(d, sizeof d, r->id, detail);
        rc = add_event(c, now, "", kind, r->release_id, -1, d);
    }
    if (!rc)
        rc = commit(c);
    if (rc) {
        seterr(err, errlen, "could not record the rollout", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

static int s_rollout_update(upd_store *base, const upd_rollout_row *r, const char *kind,
                            const char *detail, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    sqlite3_stmt *st =
        rc ? NULL
           : prep(c, "UPDATE rollouts SET state=?2, wave=?3, wave_opened_ms=?4, thresholds=?5, "
                     "reason=?6, updated_ms=?7, health_from_ms=?8 WHERE id=?1");
    if (!rc && !st)
        rc = UPD_STORE_EFAIL;
    if (!rc) {
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_text(st, 2, r->state, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, r->wave);
        sqlite3_bind_int64(st, 4, r->wave_opened_ms);
        sqlite3_bind_text(st, 5, r->thresholds, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, r->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, r->updated_ms);
        sqlite3_bind_int64(st, 8, r->health_from_ms);
        rc = step_done(st);
        if (!rc && sqlite3_changes(c->db) == 0)
            rc = UPD_STORE_ENOTFOUND;
    }
    if (!rc && kind) {
        char d[UPD_DETAIL_MAX];
        upd__evtext_rollout(d, sizeof d, r->id, detail);
        rc = add_event(c, r->updated_ms, "", kind, r->release_id, -1, d);
    }
    if (!rc)
        rc = commit(c);
    if (rc) {
        if (rc != UPD_STORE_ENOTFOUND)
            seterr(err, errlen, "could not record the rollout's state", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

static int s_rollout_get(upd_store *base, int64_t id, upd_rollout_row *out)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = prep(c, "SELECT " RO_COLS " FROM rollouts WHERE id=?1");
    int rc = UPD_STORE_EFAIL;
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        int x = sqlite3_step(st);
        if (x == SQLITE_ROW) {
            read_rollout(st, out);
            rc = 0;
        } else if (x == SQLITE_DONE)
            rc = UPD_STORE_ENOTFOUND;
        sqlite3_finalize(st);
    }
    release_conn(s, c);
    return rc;
}

static int s_rollout_list(upd_store *base, upd_rollout_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = prep(c, "SELECT " RO_COLS " FROM rollouts ORDER BY id");
    int rc = st ? 0 : UPD_STORE_EFAIL;
    upd_rollout_row *r = malloc(sizeof *r);
    if (!r)
        rc = UPD_STORE_EFAIL;
    while (rc == 0 && next_row(st, &rc)) {
        read_rollout(st, r);
        if (cb(ctx, r))
            break;
    }
    free(r);
    sqlite3_finalize(st);
    release_conn(s, c);
    return rc;
}

static int s_rollout_devices(upd_store *base, int64_t id, upd_rollout_dev_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st =
        prep(c, "SELECT mac, state, at_ms FROM rollout_devices WHERE rollout_id=?1 ORDER BY mac");
    int rc = st ? 0 : UPD_STORE_EFAIL;
    if (st)
        sqlite3_bind_int64(st, 1, id);
    while (rc == 0 && next_row(st, &rc)) {
        char mac[UPD_MAC_STR], state[24];
        col_text(st, 0, mac, sizeof mac);
        col_text(st, 1, state, sizeof state);
        if (cb(ctx, mac, state, col_int(st, 2, 0)))
            break;
    }
    sqlite3_finalize(st);
    release_conn(s, c);
    return rc;
}

/* ---- open / close ----------------------------------------------------------------------- */

static void s_close(upd_store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    if (!s)
        return;
    for (int i = 0; i < s->n; i++) {
        free(s->pool[i].brel);
        for (int q = 0; q < Q__COUNT; q++)
            sqlite3_finalize(s->pool[i].st[q]);
        if (s->pool[i].db) {
            if (i == 0)
                sqlite3_exec(s->pool[i].db, "PRAGMA optimize", NULL, NULL, NULL);
            sqlite3_close(s->pool[i].db);
        }
    }
    free(s->pool);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* One statement of s_device_delete (not cached: deletes are rare). */
static int run_mac(conn *c, const char *sql, const char *mac, int64_t *changed)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
        return UPD_STORE_EFAIL;
    sqlite3_bind_text(st, 1, mac, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : UPD_STORE_EFAIL;
    if (changed)
        *changed = sqlite3_changes(c->db);
    sqlite3_finalize(st);
    return rc;
}

static int s_device_delete(upd_store *base, const char *mac, int64_t *nevents, char *err,
                           size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int64_t rows = 0, evs = 0;
    char detail[UPD_DETAIL_MAX];
    int rc = begin(c);
    if (rc == 0)
        rc = run_mac(c, "DELETE FROM devices WHERE mac=?1", mac, &rows);
    if (rc == 0 && rows == 0)
        rc = UPD_STORE_ENOTFOUND;
    if (rc == 0)
        rc = run_mac(c, "DELETE FROM events WHERE mac=?1", mac, &evs);
    if (rc == 0) {
        upd__evtext_device_deleted(detail, sizeof detail, evs);
        rc = add_event(c, now_ms(), mac, "device-deleted", 0, -1, detail);
    }
    if (rc == 0)
        rc = commit(c);
    if (rc) {
        if (rc != UPD_STORE_ENOTFOUND)
            seterr(err, errlen, "could not delete the device", c);
        rollback(c);
    } else if (nevents) {
        *nevents = evs;
    }
    release_conn(s, c);
    return rc;
}

static int s_device_set_tags(upd_store *base, const upd_tag_write *w, size_t n, char *err,
                             size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int64_t at = now_ms();
    int rc = begin(c);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *st = stmt(c, Q_DEV_TAGS);
        if (!st) {
            rc = UPD_STORE_EFAIL;
            break;
        }
        sqlite3_bind_text(st, 1, w[i].mac, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, w[i].tags, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, w[i].old, -1, SQLITE_STATIC);
        if ((rc = exec_done(c, st)) != 0)
            break;
        if (sqlite3_changes(c->db) == 0) {
            upd_device_row *d = malloc(sizeof *d);
            rc = !d                                           ? UPD_STORE_EFAIL
                 : read_device_row(c, w[i].mac, d, NULL) == 0 ? UPD_STORE_ECONFLICT
                                                              : UPD_STORE_ENOTFOUND;
            free(d);
            if (err)
                upd__evtext_tags_refused(err, errlen, w[i].mac, rc == UPD_STORE_ECONFLICT);
            break;
        }
        rc = add_event(c, at, w[i].mac, "tags", 0, -1, w[i].detail);
    }
    if (rc == 0)
        rc = commit(c);
    if (rc) {
        if (rc == UPD_STORE_EFAIL)
            seterr(err, errlen, "could not write the devices' tags", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

static int s_event_tail(upd_store *base, const char *mac, const char *kind, int64_t after,
                        int limit, upd_event_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    /* one kind's of every device by events_kind (as Q_EV_LIST_KIND), the others from the
     * id on */
    int by_kind = !(mac && mac[0]) && kind && kind[0];
    sqlite3_stmt *st =
        prep(c, by_kind ? "SELECT id, at_ms, mac, kind, release_id, bytes, detail, actor, source "
                          "FROM events WHERE kind=?2 AND id>?3 ORDER BY id LIMIT ?4"
                        : "SELECT id, at_ms, mac, kind, release_id, bytes, detail, actor, source "
                          "FROM events WHERE id>?3 AND (?1 IS NULL OR mac=?1) AND (?2 IS NULL OR "
                          "kind=?2) ORDER BY id LIMIT ?4");
    int rc = st ? 0 : UPD_STORE_EFAIL;
    if (rc == 0) {
        bind_text_or_null(st, 1, mac);
        bind_text_or_null(st, 2, kind);
        sqlite3_bind_int64(st, 3, after > 0 ? after : 0);
        sqlite3_bind_int(st, 4, limit > 0 ? limit : 100);
    }
    while (rc == 0 && next_row(st, &rc)) {
        upd_event_row e;
        memset(&e, 0, sizeof e);
        e.id = sqlite3_column_int64(st, 0);
        e.at_ms = col_int(st, 1, 0);
        col_text(st, 2, e.mac, sizeof e.mac);
        col_text(st, 3, e.kind, sizeof e.kind);
        e.release_id = col_int(st, 4, 0);
        e.bytes = col_int(st, 5, -1);
        col_text(st, 6, e.detail, sizeof e.detail);
        col_text(st, 7, e.actor, sizeof e.actor);
        col_text(st, 8, e.source, sizeof e.source);
        if (cb(ctx, &e))
            break;
    }
    sqlite3_finalize(st);
    release_conn(s, c);
    return rc;
}

static int s_adoption_add(upd_store *base, const upd_adoption_row *rows, size_t n,
                          int64_t prune_before_ms, char *err, size_t errlen)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    int rc = begin(c);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_stmt *st = prep(c, "INSERT OR REPLACE INTO adoption(at_ms, platform, version, "
                                   "tool, devices) VALUES(?1,?2,?3,?4,?5)");
        if (!st) {
            rc = UPD_STORE_EFAIL;
            break;
        }
        sqlite3_bind_int64(st, 1, rows[i].at_ms);
        sqlite3_bind_text(st, 2, rows[i].platform, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, rows[i].version, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, rows[i].tool, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, rows[i].devices);
        rc = step_done(st);
    }
    if (rc == 0 && prune_before_ms > 0) {
        sqlite3_stmt *st = prep(c, "DELETE FROM adoption WHERE at_ms<?1");
        if (!st)
            rc = UPD_STORE_EFAIL;
        else {
            sqlite3_bind_int64(st, 1, prune_before_ms);
            rc = step_done(st);
        }
    }
    if (rc == 0)
        rc = commit(c);
    if (rc) {
        seterr(err, errlen, "could not record the adoption snapshot", c);
        rollback(c);
    }
    release_conn(s, c);
    return rc;
}

static int s_adoption_list(upd_store *base, const char *platform, int64_t since_ms,
                           upd_adoption_cb cb, void *ctx)
{
    sqlite_store *s = (sqlite_store *)base;
    conn *c = acquire(s);
    sqlite3_stmt *st = prep(c, "SELECT at_ms, platform, version, tool, devices FROM adoption "
                               "WHERE at_ms>=?1 AND (?2 IS NULL OR platform=?2) ORDER BY at_ms");
    int rc = st ? 0 : UPD_STORE_EFAIL;
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, since_ms);
        bind_text_or_null(st, 2, platform);
    }
    while (rc == 0 && next_row(st, &rc)) {
        upd_adoption_row a;
        memset(&a, 0, sizeof a);
        a.at_ms = sqlite3_column_int64(st, 0);
        col_text(st, 1, a.platform, sizeof a.platform);
        col_text(st, 2, a.version, sizeof a.version);
        col_text(st, 3, a.tool, sizeof a.tool);
        a.devices = sqlite3_column_int64(st, 4);
        if (cb(ctx, &a))
            break;
    }
    sqlite3_finalize(st);
    release_conn(s, c);
    return rc;
}

static const upd_store_ops SQLITE_OPS = {
    .close = s_close,
    .release_insert = s_release_insert,
    .release_get = s_release_get,
    .release_by_sha256 = s_release_by_sha256,
    .release_by_hash = s_release_by_hash,
    .release_set_hashes = s_release_set_hashes,
    .release_set_gzip = s_release_set_gzip,
    .release_list = s_release_list,
    .release_retire = s_release_retire,
    .blob_referenced = s_blob_referenced,
    .release_unretire = s_release_unretire,
    .release_set_notes = s_release_set_notes,
    .release_adoption = s_release_adoption,
    .release_delete = s_release_delete,
    .device_count = s_device_count,
    .device_scan = s_device_scan,
    .device_versions = s_device_versions,
    .channel_set = s_channel_set,
    .channel_current = s_channel_current,
    .channel_list = s_channel_list,
    .channel_chip_get = s_channel_chip_get,
    .channel_chip_set = s_channel_chip_set,
    .channel_key_get = s_channel_key_get,
    .channel_key_set = s_channel_key_set,
    .device_get = s_device_get,
    .device_list = s_device_list,
    .device_set_pin = s_device_set_pin,
    .device_set_channel = s_device_set_channel,
    .event_list = s_event_list,
    .events_prune = s_events_prune,
    .refresh_stats = s_refresh_stats,
    .apply_batch = s_apply_batch,
    .device_clear_hold = s_device_clear_hold,
    .device_delete = s_device_delete,
    .device_set_tags = s_device_set_tags,
    .rollout_insert = s_rollout_insert,
    .rollout_update = s_rollout_update,
    .rollout_get = s_rollout_get,
    .rollout_list = s_rollout_list,
    .rollout_devices = s_rollout_devices,
    .event_add = s_event_add,
    .token_insert = s_token_insert,
    .token_by_key = s_token_by_key,
    .token_list = s_token_list,
    .token_delete = s_token_delete,
    .token_touch = s_token_touch,
    .session_insert = s_session_insert,
    .session_get = s_session_get,
    .session_touch = s_session_touch,
    .session_delete = s_session_delete,
    .channel_set_downgrade = s_channel_set_downgrade,
    .event_tail = s_event_tail,
    .adoption_add = s_adoption_add,
    .adoption_list = s_adoption_list,
};

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int have = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            have = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (have > N_MIGRATIONS) {
        snprintf(err, errlen,
                 "the database has schema version %d, newer than this updraft knows (%d): run "
                 "a newer updraft",
                 have, N_MIGRATIONS);
        return -1;
    }
    for (int v = have; v < N_MIGRATIONS; v++) {
        char *msg = NULL;
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, MIGRATIONS[v], NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "schema migration %d failed: %s", v + 1,
                     msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

/* SQLite's memory statistics (sqlite3_status) are read nowhere; kept on (its default), they
 * put a process-wide mutex around every allocation and free SQLite makes, which was a fifth
 * of the writer thread's instructions per recorded download (bench/server/instr.sh). Set
 * before SQLite's first use; when something used it first, it stays on (SQLITE_MISUSE). */
static void sqlite_config_once(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

upd_store *upd_store_sqlite_open(const char *path, int pool, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_config_once);
    if (pool < 2)
        pool = 2;
    sqlite_store *s = calloc(1, sizeof *s);
    if (!s || !(s->pool = calloc((size_t)pool, sizeof *s->pool))) {
        snprintf(err, errlen, "out of memory");
        free(s);
        return NULL;
    }
    s->base.ops = &SQLITE_OPS;
    s->n = pool;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (int i = 0; i < pool; i++) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(
            path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        s->pool[i].db = db;
        if (rc != SQLITE_OK) {
            snprintf(err, errlen, "cannot open the database %s: %s", path,
                     db ? sqlite3_errmsg(db) : "out of memory");
            s_close(&s->base);
            return NULL;
        }
        sqlite3_busy_timeout(db, 10000);
        char *msg = NULL;
        if (sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                         "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY",
                         NULL, NULL, &msg) != SQLITE_OK) {
            snprintf(err, errlen, "cannot set up the database %s: %s", path,
                     msg ? msg : sqlite3_errmsg(db));
            sqlite3_free(msg);
            s_close(&s->base);
            return NULL;
        }
        if (i == 0 && migrate(db, err, errlen) != 0) {
            s_close(&s->base);
            return NULL;
        }
    }
    return &s->base;
}

/* ---- copies of the whole database (backup.c) ------------------------------------------- */

/* PRAGMA integrity_check on an open database: 0 when it says "ok". */
static int integrity_ok(sqlite3 *db, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    const char *first = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int ok = first && !strcmp(first, "ok");
    if (!ok)
        snprintf(err, errlen, "the database %s fails SQLite's integrity check: %s", path,
                 first ? first : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

int upd_store_sqlite_copy(const char *src, const char *dst, char *err, size_t errlen)
{
    sqlite3 *from = NULL, *to = NULL;
    int status = -1;
    /* read-write without create: a reader of a WAL database uses its -shm file */
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open the database %s: %s", src,
                 from ? sqlite3_errmsg(from) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(from, 10000);
    if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot create the database copy %s: %s", dst,
                 to ? sqlite3_errmsg(to) : "out of memory");
        goto out;
    }
    /* all pages in one step: one read transaction, so one consistent snapshot while a
     * server goes on writing (WAL readers do not block the writer, nor it them) */
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) {
        snprintf(err, errlen, "cannot copy %s: %s", src, sqlite3_errmsg(to));
        goto out;
    }
    int rc, tries = 0;
    while (((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
           ++tries < 400)
        sqlite3_sleep(50); /* up to 20 s */
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "copying %s failed: %s", src, sqlite3_errstr(rc));
        goto out;
    }
    status = integrity_ok(to, dst, err, errlen);
out:
    sqlite3_close(from);
    if (to && sqlite3_close(to) != SQLITE_OK && status == 0) {
        snprintf(err, errlen, "cannot close the copy %s", dst);
        status = -1;
    }
    return status;
}

int upd_store_sqlite_check(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int status = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the database %s: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
    } else {
        status = integrity_ok(db, path, err, errlen);
    }
    sqlite3_close(db);
    return status;
}

int upd_store_sqlite_seal(const char *path, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int status = -1;
    char *msg = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "cannot open the database %s: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
    } else if (sqlite3_exec(db, "PRAGMA journal_mode=DELETE", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "cannot finish the database %s: %s", path,
                 msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
    } else {
        status = integrity_ok(db, path, err, errlen);
    }
    if (db && sqlite3_close(db) != SQLITE_OK && status == 0) {
        snprintf(err, errlen, "cannot close the database %s", path);
        status = -1;
    }
    return status;
}
