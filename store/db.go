package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	sqlite3 "github.com/mutecomm/go-sqlcipher/v4"
)

// KeySize is the size in bytes of a raw SQLCipher database key.
const KeySize = 32

// Kind names one of the vault's two databases.
type Kind string

const (
	// General is general.db: demographics, appointments, users, audit.
	General Kind = "general"
	// Clinical is clinical.db: notes and everything else only clinicians see.
	Clinical Kind = "clinical"
)

// applicationIDs are written to PRAGMA application_id so that a file that is
// not ours, or the other database of the pair, is refused on open.
var applicationIDs = map[Kind]int32{
	General:  0x43564731, // "CVG1"
	Clinical: 0x43564331, // "CVC1"
}

// FileName returns the file name of the database of kind k in a data directory.
func (k Kind) FileName() string { return string(k) + ".db" }

var (
	// ErrWrongKey means the database exists but the key does not open it.
	ErrWrongKey = errors.New("store: wrong key for database")
	// ErrForeignDatabase means the file is a database, but not this kind of
	// ClinicVault database.
	ErrForeignDatabase = errors.New("store: not a ClinicVault database of this kind")
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrTooNew means the database was written by a newer ClinicVault.
	ErrTooNew = errors.New("store: database is from a newer version of ClinicVault")
)

//go:embed migrations
var migrations embed.FS

const driverName = "clinicvault-sqlcipher"

// cvDriver is go-sqlcipher's driver with ClinicVault's crypto provider
// registered before each connection is keyed (useHardwareAES).
type cvDriver struct{ *sqlite3.SQLiteDriver }

func (d cvDriver) Open(dsn string) (driver.Conn, error) {
	useHardwareAES()
	return d.SQLiteDriver.Open(dsn)
}

func init() {
	sql.Register(driverName, cvDriver{&sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			// temp_store=MEMORY: sorts, temp tables and indices never reach
			// a temp file on disk (it also keeps the sorter to one thread
			// and all in memory). secure_delete overwrites freed pages.
			// synchronous=FULL: every commit is synced to disk before it
			// returns, so a saved note survives a power cut (this
			// go-sqlcipher build defaults WAL databases to NORMAL, which
			// syncs only at checkpoints; measured: a registration 2.5 ->
			// 3.0 ms, a 100,000-patient import no slower beyond noise).
			for _, p := range []string{
				"PRAGMA cipher_memory_security = OFF",
				"PRAGMA temp_store = MEMORY",
				"PRAGMA secure_delete = ON",
				"PRAGMA foreign_keys = ON",
				"PRAGMA synchronous = FULL",
				// 32 MB of page cache: large transactions (imports, the
				// demo) otherwise spill pages that SQLCipher must encrypt
				// and decrypt again.
				"PRAGMA cache_size = -32768",
			} {
				if _, err := c.Exec(p, nil); err != nil {
					return err
				}
			}
			return nil
		},
	}})
}

// DB is an open, keyed and migrated ClinicVault database.
type DB struct {
	*sql.DB
	Kind Kind
	Path string
	// PageSize is the file's page size: SQLCipher needs it before it can
	// read anything, and a snapshot must be made with the same.
	PageSize int
}

// Page sizes. New databases use 16 KiB pages: SQLCipher encrypts and
// authenticates page by page and SQLite writes the WAL a frame at a time,
// so a quarter as many pages makes a large import's commit markedly
// cheaper (measured: 100,000 patients 6-10 % faster end to end, every
// paired run). Databases made before keep their 4 KiB pages.
const (
	newPageSize    = 16384
	legacyPageSize = 4096
)

// Open opens (creating if missing) the database of the given kind at p with
// the raw key. A wrong key returns ErrWrongKey; a database of another kind or
// application returns ErrForeignDatabase. Migrations are applied on open.
func Open(ctx context.Context, p string, kind Kind, key []byte) (*DB, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("store: key must be %d bytes", KeySize)
	}
	dropUnfinishedRekey(p)
	appID, ok := applicationIDs[kind]
	if !ok {
		return nil, fmt.Errorf("store: unknown database kind %q", kind)
	}
	var db *DB
	var err error
	for _, size := range pageSizesToTry(p) {
		if db, err = openKeyed(ctx, p, kind, key, size, appID); !errors.Is(err, ErrWrongKey) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx, appID); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openKeyed(ctx context.Context, p string, kind Kind, key []byte, pageSize int, appID int32) (*DB, error) {
	sdb, err := sql.Open(driverName, dsn(p, key, pageSize))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", kind.FileName(), err)
	}
	db := &DB{DB: sdb, Kind: kind, Path: p, PageSize: pageSize}
	if err := db.check(ctx, appID); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// pageSizesToTry are the page sizes the file at p may have, likeliest
// first. SQLCipher encrypts the whole file, page size included, so it
// must be known before opening: a new file gets newPageSize; a WAL
// file's header (not encrypted) states it; otherwise both are tried - a
// wrong page size fails page 1's authentication like a wrong key,
// before anything is written.
func pageSizesToTry(p string) []int {
	if f, err := os.Open(p + "-wal"); err == nil {
		var h [32]byte
		_, err := io.ReadFull(f, h[:])
		f.Close()
		if err == nil {
			if n := int(binary.BigEndian.Uint32(h[8:12])); n == newPageSize || n == legacyPageSize {
				return []int{n}
			}
		}
	}
	if st, err := os.Stat(p); err != nil || st.Size() == 0 {
		return []int{newPageSize}
	}
	return []int{newPageSize, legacyPageSize}
}

// dsn is the data source name for a SQLCipher file with a raw key: the key
// goes to SQLCipher as x'…', so its own PBKDF2 never runs.
func dsn(p string, key []byte, pageSize int) string {
	q := url.Values{}
	q.Set("_pragma_key", "x'"+hex.EncodeToString(key)+"'")
	q.Set("_pragma_cipher_page_size", strconv.Itoa(pageSize))
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_txlock", "immediate")
	return "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + q.Encode()
}

func isNotADB(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB)
}

// check reads the schema, which is the first point where a wrong key shows,
// and the application id.
func (db *DB) check(ctx context.Context, appID int32) error {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n)
	if isNotADB(err) {
		return fmt.Errorf("store: open %s: %w", db.Kind.FileName(), ErrWrongKey)
	}
	if err != nil {
		return fmt.Errorf("store: open %s: %w", db.Kind.FileName(), err)
	}
	var got int32
	if err := db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&got); err != nil {
		return fmt.Errorf("store: read application_id: %w", err)
	}
	if got != 0 && got != appID {
		return fmt.Errorf("store: %s has application id %#x: %w", db.Kind.FileName(), got, ErrForeignDatabase)
	}
	if got == 0 && n > 0 {
		return fmt.Errorf("store: %s has tables but no application id: %w", db.Kind.FileName(), ErrForeignDatabase)
	}
	return nil
}

type migration struct {
	version int
	name    string
}

func (db *DB) migrations() ([]migration, error) {
	dir := path.Join("migrations", string(db.Kind))
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: badly named migration %s", e.Name())
		}
		ms = append(ms, migration{v, path.Join(dir, e.Name())})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migrations of %s are not numbered 1..n", db.Kind)
		}
	}
	return ms, nil
}

// migrate applies every migration above user_version, each in its own
// transaction together with the new user_version.
func (db *DB) migrate(ctx context.Context, appID int32) error {
	return db.migrateTo(ctx, appID, -1)
}

// migrateTo applies migrations up to schema version upTo (-1: all).
func (db *DB) migrateTo(ctx context.Context, appID int32, upTo int) error {
	ms, err := db.migrations()
	if err != nil {
		return err
	}
	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("store: read user_version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("store: %s is at schema %d, this build knows %d: %w", db.Kind.FileName(), current, len(ms), ErrTooNew)
	}
	for _, m := range ms[current:] {
		if upTo >= 0 && m.version > upTo {
			break
		}
		body, err := migrations.ReadFile(m.name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmts := string(body) + fmt.Sprintf("\nPRAGMA user_version = %d;\nPRAGMA application_id = %d;\n", m.version, appID)
		if _, err := tx.ExecContext(ctx, stmts); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
	}
	rows, err := db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		return fmt.Errorf("store: %s fails foreign_key_check after migrating", db.Kind.FileName())
	}
	return rows.Err()
}

// SchemaVersion returns the database's user_version.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// OpenUnencrypted opens a database without a key. It exists only so that
// benchmarks can compare SQLCipher with the same engine unkeyed; no real
// data may ever be put in such a file.
func OpenUnencrypted(ctx context.Context, p string, kind Kind) (*DB, error) {
	if st, err := os.Stat(p); err != nil || st.Size() == 0 {
		// Same page size as a new encrypted file, set before WAL mode
		// writes the header.
		if err := createPlain(ctx, p, newPageSize); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_txlock", "immediate")
	sdb, err := sql.Open(driverName, "file:"+(&url.URL{Path: p}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db := &DB{DB: sdb, Kind: kind, Path: p}
	if err := db.check(ctx, applicationIDs[kind]); err != nil {
		sdb.Close()
		return nil, err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&db.PageSize); err != nil {
		sdb.Close()
		return nil, err
	}
	if err := db.migrate(ctx, applicationIDs[kind]); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

func createPlain(ctx context.Context, p string, pageSize int) error {
	sdb, err := sql.Open(driverName, "file:"+(&url.URL{Path: p}).EscapedPath())
	if err != nil {
		return err
	}
	defer sdb.Close()
	conn, err := sdb.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{"PRAGMA page_size = " + strconv.Itoa(pageSize), "PRAGMA journal_mode = WAL"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// IsBusy reports whether err is SQLite's "database is locked": another
// connection (another ClinicVault process, an import) held the write
// lock for longer than the busy timeout.
func IsBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// IsFull reports whether err is SQLite's "database or disk is full".
func IsFull(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrFull
}

// IsTransient reports whether err is one that may pass by itself: the
// database busy or locked by another process, the disk full, an I/O
// error, a read-only or unreachable file. Work that failed with it is
// tried again rather than given up.
func IsTransient(err error) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code {
	case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrFull, sqlite3.ErrIoErr, sqlite3.ErrCantOpen, sqlite3.ErrReadonly, sqlite3.ErrNomem, sqlite3.ErrProtocol:
		return true
	}
	return false
}
