//go:build cgo && amd64 && (linux || windows)

package store

/*
#include "cryptoprovider.h"
*/
import "C"

import (
	"database/sql/driver"
	"encoding/hex"
	"sync"
	"unsafe"

	sqlite3 "github.com/mutecomm/go-sqlcipher/v4"
)

// SQLCipher's page crypto on the CPU's AES instructions (#17). go-sqlcipher
// v4.4.2 bundles libtomcrypt built without assembly, so every page was
// AES-256-CBC in table-driven C. SQLCipher lets a program register its own
// crypto provider; ClinicVault's (cryptoprovider.c) is the bundled one with
// its cipher replaced by AES-NI code: the same AES-256-CBC, byte for byte
// (tested against libtomcrypt on random keys, IVs and pages, and on
// databases written by either), the same HMAC-SHA512, KDF and random
// source. On a CPU without AES-NI (or not amd64) the bundled provider
// stays, and CryptoProvider says so.

var (
	providerMu sync.Mutex
	// bundledOnly makes new connections use the bundled provider: for
	// the tests that write with one and read with the other.
	bundledOnly bool
)

// useHardwareAES registers the provider before a connection is keyed.
// SQLCipher frees the registered provider, and its own mutexes (leaving
// their pointers dangling), when the last keyed connection of the process
// closes: registering again after that used a freed mutex and hung. So
// the provider is registered once, before the first connection, and a
// keyed in-memory connection is kept open for the life of the process so
// that SQLCipher never reaches that state. Tests switch to the bundled
// provider (bundledOnly) only while this connection holds the count up.
func useHardwareAES() {
	providerMu.Lock()
	defer providerMu.Unlock()
	if keepAlive == nil {
		if CryptoProvider() == providerName {
			C.cv_register_provider()
		}
		// Keyed with a random key: it holds nothing.
		conn, err := (&sqlite3.SQLiteDriver{}).Open("file:clinicvault-provider?mode=memory&_pragma_key=x'" + hex.EncodeToString(NewKey()) + "'")
		if err != nil {
			return // the connection being opened reports what is wrong
		}
		keepAlive = conn
	}
	want := CryptoProvider()
	if bundledOnly {
		want = bundledName
	}
	if C.GoString(C.cv_current_provider()) == want {
		return
	}
	if want == providerName {
		C.cv_register_provider()
	} else {
		C.cv_register_bundled()
	}
}

// keepAlive is the keyed connection that keeps SQLCipher's provider and
// mutexes alive (useHardwareAES).
var keepAlive driver.Conn

// withBundledProvider runs fn with new connections on the bundled
// provider (tests).
func withBundledProvider(fn func()) {
	providerMu.Lock()
	bundledOnly = true
	providerMu.Unlock()
	defer func() {
		providerMu.Lock()
		bundledOnly = false
		providerMu.Unlock()
	}()
	fn()
}

// CryptoProvider names the crypto SQLCipher uses for the pages:
// "clinicvault-aesni" (AES-NI) or "libtomcrypt" (the bundled one, in C
// without assembly, on CPUs without AES instructions).
func CryptoProvider() string {
	if C.cv_hardware_aes() != 0 {
		return providerName
	}
	return bundledName
}

// pageCipher runs AES-256-CBC over in with the provider's cipher (ours,
// or the bundled one): for the comparison tests.
func pageCipher(bundled, encrypt bool, key, iv, in []byte) []byte {
	out := make([]byte, len(in))
	mode := C.int(0)
	if encrypt {
		mode = 1
	}
	if len(in) == 0 {
		return out
	}
	k, v, i, o := (*C.uchar)(unsafe.Pointer(&key[0])), (*C.uchar)(unsafe.Pointer(&iv[0])), (*C.uchar)(unsafe.Pointer(&in[0])), (*C.uchar)(unsafe.Pointer(&out[0]))
	var rc C.int
	if bundled {
		rc = C.cv_cipher_bundled(mode, k, v, i, C.int(len(in)), o)
	} else {
		rc = C.cv_cipher_ours(mode, k, v, i, C.int(len(in)), o)
	}
	if rc != 0 {
		panic("store: page cipher failed")
	}
	return out
}

// pageHMAC is the bundled provider's HMAC-SHA512 of in and in2 (tests).
func pageHMAC(key, in, in2 []byte) []byte {
	out := make([]byte, 64)
	rc := C.cv_hmac_bundled((*C.uchar)(unsafe.Pointer(&key[0])), C.int(len(key)), (*C.uchar)(unsafe.Pointer(&in[0])), C.int(len(in)),
		(*C.uchar)(unsafe.Pointer(&in2[0])), C.int(len(in2)), (*C.uchar)(unsafe.Pointer(&out[0])))
	if rc != 0 {
		panic("store: page HMAC failed")
	}
	return out
}
