package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"database/sql"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPageCipherMatchesBundledAndGo: on random keys, IVs and lengths (a
// block to 64 KiB), ClinicVault's AES-256-CBC gives the bundled
// libtomcrypt's bytes and Go's crypto/aes's, both ways.
func TestPageCipherMatchesBundledAndGo(t *testing.T) {
	if CryptoProvider() != providerName {
		t.Skip("no AES instructions on this CPU: the bundled provider is used")
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	for i := range 300 {
		key, iv := make([]byte, 32), make([]byte, 16)
		rand.Read(key)
		rand.Read(iv)
		n := 16 * (1 + r.IntN(4096))
		if i%50 == 0 {
			n = 16384 // a page
		}
		plain := make([]byte, n)
		rand.Read(plain)
		ours := pageCipher(false, true, key, iv, plain)
		bundled := pageCipher(true, true, key, iv, plain)
		block, _ := aes.NewCipher(key)
		goes := make([]byte, n)
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(goes, plain)
		if !bytes.Equal(ours, bundled) || !bytes.Equal(ours, goes) {
			t.Fatalf("encrypting %d bytes: ours differs", n)
		}
		if back := pageCipher(false, false, key, iv, ours); !bytes.Equal(back, plain) {
			t.Fatalf("decrypting %d bytes: ours does not give the plaintext back", n)
		}
		if back := pageCipher(true, false, key, iv, ours); !bytes.Equal(back, plain) {
			t.Fatalf("decrypting %d bytes: the bundled one does not read ours", n)
		}
	}
}

// TestDatabasesUseTheProvider: a database opened through store (and every
// connection its pool opens later, after all were closed) reads and
// writes its pages with ClinicVault's provider.
func TestDatabasesUseTheProvider(t *testing.T) {
	ctx := t.Context()
	p := t.TempDir() + "/general.db"
	key := NewKey()
	for round := range 20 { // each after every connection was closed (SQLCipher then frees its mutexes)
		db, err := Open(ctx, p, General, key)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		if err := db.QueryRowContext(ctx, `PRAGMA cipher_provider`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name != CryptoProvider() {
			t.Fatalf("round %d: pages through %q, want %q", round, name, CryptoProvider())
		}
		db.Close()
	}
}

// TestProvidersReadEachOthersDatabases (#17, item 2): a database written
// by the bundled provider opens with ClinicVault's and the other way
// round, for 4 KiB and 16 KiB pages, in WAL and rollback-journal mode;
// the rows are there, PRAGMA cipher_integrity_check is clean, and a
// wrong key is still refused as ErrWrongKey.
func TestProvidersReadEachOthersDatabases(t *testing.T) {
	if CryptoProvider() != providerName {
		t.Skip("no AES instructions on this CPU: only the bundled provider runs")
	}
	ctx := t.Context()
	type side struct {
		name string
		run  func(func())
	}
	bundled := side{bundledName, withBundledProvider}
	ours := side{providerName, func(fn func()) { fn() }}
	for _, pageSize := range []int{legacyPageSize, newPageSize} {
		for _, journal := range []string{"WAL", "DELETE"} {
			for _, pair := range [][2]side{{bundled, ours}, {ours, bundled}} {
				writer, reader := pair[0], pair[1]
				name := fmt.Sprintf("%d-%s-%s-to-%s", pageSize, journal, writer.name, reader.name)
				t.Run(name, func(t *testing.T) {
					p := filepath.Join(t.TempDir(), "x.db")
					key := NewKey()
					source := dsn(p, key, pageSize)
					source = strings.Replace(source, "_journal_mode=WAL", "_journal_mode="+journal, 1)
					open := func(want string) *sql.DB {
						t.Helper()
						db, err := sql.Open(driverName, source)
						if err != nil {
							t.Fatal(err)
						}
						var got string
						if err := db.QueryRowContext(ctx, `PRAGMA cipher_provider`).Scan(&got); err != nil || got != want {
							t.Fatalf("provider %q, %v; want %q", got, err, want)
						}
						return db
					}
					rows := 3000 // several hundred pages of either size
					writer.run(func() {
						db := open(writer.name)
						defer db.Close()
						if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
							t.Fatal(err)
						}
						tx, _ := db.BeginTx(ctx, nil)
						for i := range rows {
							tx.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, fmt.Sprintf("row %d %s", i, strings.Repeat("z", i%200)))
						}
						if err := tx.Commit(); err != nil {
							t.Fatal(err)
						}
					})
					reader.run(func() {
						db := open(reader.name)
						defer db.Close()
						var n int
						var last string
						if err := db.QueryRowContext(ctx, `SELECT count(*), max(v) FROM t`).Scan(&n, &last); err != nil || n != rows {
							t.Fatalf("read %d rows, %v", n, err)
						}
						problems, err := db.QueryContext(ctx, `PRAGMA cipher_integrity_check`)
						if err != nil {
							t.Fatal(err)
						}
						for problems.Next() {
							var s string
							problems.Scan(&s)
							t.Errorf("cipher_integrity_check: %s", s)
						}
						problems.Close()
						// And it writes on: the other provider reads that too.
						if _, err := db.ExecContext(ctx, `UPDATE t SET v = 'again ' || v WHERE id % 7 = 0`); err != nil {
							t.Fatal(err)
						}
					})
					writer.run(func() {
						db := open(writer.name)
						defer db.Close()
						var n int
						if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE v LIKE 'again %'`).Scan(&n); err != nil || n != rows/7 {
							t.Fatalf("the writer reads back %d rows the reader changed, %v", n, err)
						}
					})
					reader.run(func() {
						wrong := strings.Replace(source, hex.EncodeToString(key), hex.EncodeToString(NewKey()), 1)
						db, err := sql.Open(driverName, wrong)
						if err != nil {
							t.Fatal(err)
						}
						defer db.Close()
						var n int
						if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); !isNotADB(err) {
							t.Fatalf("a wrong key: %v, want SQLite's not-a-database (ErrWrongKey)", err)
						}
					})
				})
			}
		}
	}
}

// The known-answer databases: made by the bundled provider (libtomcrypt)
// with this key, one table of these rows, committed under testdata, and
// read by whichever provider runs. Made again with
// CLINICVAULT_WRITE_KAT=1 (they must not change).
var (
	katKey  = bytes.Repeat([]byte{0x5a, 0xc3}, 16)
	katRows = []string{"Zoë Brontë-Ñandú 1975-05-06", "José Núñez 1980-03-02", strings.Repeat("page filler ", 3000)}
)

func katPath(pageSize int) string {
	return filepath.Join("testdata", fmt.Sprintf("sqlcipher-4.4.2-libtomcrypt-%dk.db", pageSize/1024))
}

// TestBundledKnownAnswerDatabases (#17, item 2): files written by the
// bundled provider, committed in the repository, open and read with the
// provider in use, with a clean cipher_integrity_check.
func TestBundledKnownAnswerDatabases(t *testing.T) {
	ctx := t.Context()
	for _, pageSize := range []int{legacyPageSize, newPageSize} {
		path := katPath(pageSize)
		if os.Getenv("CLINICVAULT_WRITE_KAT") == "1" {
			os.Remove(path)
			withBundledProvider(func() {
				db, err := sql.Open(driverName, strings.Replace(dsn(path, katKey, pageSize), "_journal_mode=WAL", "_journal_mode=DELETE", 1))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				db.ExecContext(ctx, `CREATE TABLE kat (id INTEGER PRIMARY KEY, v TEXT)`)
				for _, r := range katRows {
					if _, err := db.ExecContext(ctx, `INSERT INTO kat (v) VALUES (?)`, r); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
		// Read from a copy: opening writes to the file (WAL) and the
		// committed one must stay as it was.
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cp := filepath.Join(t.TempDir(), "kat.db")
		os.WriteFile(cp, raw, 0o600)
		db, err := sql.Open(driverName, strings.Replace(dsn(cp, katKey, pageSize), "_journal_mode=WAL", "_journal_mode=DELETE", 1))
		if err != nil {
			t.Fatal(err)
		}
		var provider string
		db.QueryRowContext(ctx, `PRAGMA cipher_provider`).Scan(&provider)
		if provider != CryptoProvider() {
			t.Fatalf("read with %q, want %q", provider, CryptoProvider())
		}
		var got []string
		rs, err := db.QueryContext(ctx, `SELECT v FROM kat ORDER BY id`)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for rs.Next() {
			var v string
			rs.Scan(&v)
			got = append(got, v)
		}
		rs.Close()
		if !slices.Equal(got, katRows) {
			t.Fatalf("%s: read %d rows, not the ones written", path, len(got))
		}
		var problem string
		if err := db.QueryRowContext(ctx, `PRAGMA cipher_integrity_check`).Scan(&problem); err != sql.ErrNoRows {
			t.Fatalf("%s: cipher_integrity_check: %q %v", path, problem, err)
		}
		db.Close()
	}
}

// FuzzPageCipher (#17, item 3): for any key, IV and data, ClinicVault's
// cipher and the bundled one give the same bytes, both ways.
func FuzzPageCipher(f *testing.F) {
	f.Add(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16), bytes.Repeat([]byte{3}, 64))
	f.Add(make([]byte, 32), make([]byte, 16), make([]byte, 16))
	f.Fuzz(func(t *testing.T, key, iv, data []byte) {
		if CryptoProvider() != providerName {
			t.Skip("no AES instructions on this CPU")
		}
		if len(key) < 32 || len(iv) < 16 || len(data) < 16 {
			return
		}
		key, iv, data = key[:32], iv[:16], data[:len(data)/16*16]
		for _, encrypt := range []bool{true, false} {
			if ours, bundled := pageCipher(false, encrypt, key, iv, data), pageCipher(true, encrypt, key, iv, data); !bytes.Equal(ours, bundled) {
				t.Fatalf("encrypt %v, %d bytes: the providers differ", encrypt, len(data))
			}
		}
	})
}

// BenchmarkPageCrypto: one 16 KiB page through each part of SQLCipher's
// page crypto, the bundled provider's and ClinicVault's, and Go's own
// HMAC-SHA512 for comparison.
func BenchmarkPageCrypto(b *testing.B) {
	if CryptoProvider() != providerName {
		b.Skip("no AES instructions on this CPU")
	}
	key, iv, page := make([]byte, 32), make([]byte, 16), make([]byte, 16384)
	rand.Read(key)
	rand.Read(iv)
	rand.Read(page)
	pgno := []byte{0, 0, 0, 7}
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"aes-cbc-encrypt/libtomcrypt", func() { pageCipher(true, true, key, iv, page) }},
		{"aes-cbc-encrypt/clinicvault-aesni", func() { pageCipher(false, true, key, iv, page) }},
		{"aes-cbc-decrypt/libtomcrypt", func() { pageCipher(true, false, key, iv, page) }},
		{"aes-cbc-decrypt/clinicvault-aesni", func() { pageCipher(false, false, key, iv, page) }},
		{"hmac-sha512/libtomcrypt", func() { pageHMAC(key, page, pgno) }},
		{"hmac-sha512/go", func() {
			m := hmac.New(sha512.New, key)
			m.Write(page)
			m.Write(pgno)
			m.Sum(nil)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				c.fn()
			}
		})
	}
}
