// Package store keeps ClinicVault's data on disk: the keyring of user slots
// (vault.keys) and the two SQLCipher databases, general.db and clinical.db,
// opened with raw 256-bit keys and migrated from embedded numbered SQL files.
//
// Nothing in this package writes plaintext patient data to disk: databases are
// encrypted page by page by SQLCipher, temporary tables are kept in memory, and
// the keyring holds only wrapped key material.
package store
