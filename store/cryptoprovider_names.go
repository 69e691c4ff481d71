package store

// The crypto providers SQLCipher may use for the pages (CryptoProvider).
const (
	providerName = "clinicvault-aesni" // cryptoprovider.c: AES-NI (its CV_PROVIDER_NAME)
	bundledName  = "libtomcrypt"       // go-sqlcipher's bundled one
)
