//go:build !(cgo && amd64 && (linux || windows))

package store

// Where ClinicVault has no provider of its own (not amd64 Linux or
// Windows: the Macs, ARM), SQLCipher's bundled provider does the pages.
// cryptoprovider.c's AES-NI code is x86 only; ARMv8's AES instructions
// would need code of their own, untested here.

func useHardwareAES() {}

// CryptoProvider names the crypto SQLCipher uses for the pages.
func CryptoProvider() string { return bundledName }

func withBundledProvider(fn func()) { fn() }

func pageCipher(bundled, encrypt bool, key, iv, in []byte) []byte {
	panic("store: no provider of ClinicVault's on this platform")
}

func pageHMAC(key, in, in2 []byte) []byte {
	panic("store: no provider of ClinicVault's on this platform")
}
