// Package sync carries a practice's changes between its machines as
// end-to-end encrypted batches through a shared folder, which sees only
// ciphertext, sizes, times and device ids.
//
// # Change records and clocks
//
// Every write of a row appends, in the same transaction, one change record:
// (hlc, table, row id, columns, device, author), where columns maps each
// column the write set to its new value (text, or null for SQL NULL).
// Locally a record of one column is stored as (column, value); a record of
// several as column "*" with the JSON object as its value (version 1 wrote
// one record per column, and those stay as they are).
// hlc is a hybrid logical clock reading (Timestamp): 48 bits of Unix
// milliseconds, a 16-bit counter and the device id, written as
// "wwwwwwwwwwww-cccc-<device uuid>" so that string order is clock order.
// Merging is last writer wins per (table, row, column) by that order; the
// device id breaks ties. A record that carries several columns can win
// some and lose others: each column is judged on its own. Every record, winning or not, stays in the
// receiving machine's change log, so no edit is lost from history.
// Records of clinical tables live in clinical.db and travel only in
// clinical batches.
//
// # Folder layout
//
//	devices/<device uuid>/<seq, 12 digits>   one batch each, written once
//	epochs/<n>/<device uuid>                 key epoch n sealed to a device
//	pairing/<id>/offer|request|grant          pairing files
//
// Each device writes only its own files, through a temp file and a rename,
// and never changes them; seq counts 1, 2, 3… per device across both
// classes.
//
// # Batch envelope (version 2)
//
//	offset size
//	0      4    magic "CVSB"
//	4      1    version = 2 (1 is still read)
//	5      16   vault id (UUID bytes)
//	21     4    key epoch (big-endian)
//	25     1    class: 1 general, 2 clinical
//	26     16   device id
//	42     8    seq (big-endian, from 1)
//	50     32   SHA-256 of the device's previous envelope (zeros for seq 1)
//	82     16   signer: the user whose Ed25519 key signed the records
//	98     24   XChaCha20-Poly1305 nonce (random)
//	122    …    ciphertext
//
// The ciphertext is XChaCha20-Poly1305 under the class's sync key for the
// epoch, with bytes 0–121 as associated data. Its plaintext is a 64-byte
// Ed25519 signature by the signer over "clinicvault.org/v1/sync-batch" ||
// bytes 0–121 || body, followed by the body: the records as a JSON array
// of {"h": hlc, "t": table, "r": row id, "m": {column: value or null, …},
// "d": device, "a": author}, compressed with DEFLATE. Every record's device
// must be the header's device. Version 1 records carried one column each
// as "c" (column) and "v" (value); a version-1 envelope with "m" records,
// or a version-2 one with "c"/"v" records, is malformed. Vectors:
// testdata/batch-vector-v2.json (re-encoded byte for byte) and
// testdata/batch-vector-v1.json (still opens).
//
// Sync keys: epoch 0 is HKDF-SHA256(database key, salt = vault id, info =
// "clinicvault.org/v1/sync-key/<class>/0"), so every holder of the general
// (clinical) database key has the general (clinical) sync key. Revoking a
// device starts epoch n+1 with random keys, sealed to each remaining
// device's X25519 key (ephemeral ECDH, HKDF-SHA256, XChaCha20-Poly1305,
// label "clinicvault.org/v1/epoch-keys") and signed by the admin; the
// clinical key of the epoch is further wrapped under a key derived from
// the clinical database key, so a device's own key — which every user of
// that machine can reach — never yields clinical sync keys.
//
// # Receiving
//
// A machine takes each other device's batches in order. A batch is
// refused, and the device's log stops there, when: its header names
// another vault; its seq or previous hash does not follow what was taken
// (a gap waits; a replay or fork is refused); the device was revoked; it
// does not authenticate under the epoch's key (a flipped bit, a cut file,
// an old epoch's key); its signature does not verify; a clinical batch is
// signed by someone who is not a clinician or admin; or it changes staff,
// devices or the keyring and its signer is not an admin (a user may change
// only their own slot). A batch from a device whose clock runs more than
// five minutes ahead is held, and the local clock is not moved. A machine
// where no clinician is signed in keeps clinical batches sealed and
// applies them at the next clinician sign-in. Applying happens in one
// transaction; applying the same batch twice changes nothing.
//
// # Pairing
//
// The admin's machine writes pairing/<id>/offer (its X25519 key, the vault
// id, an expiry 10 minutes away), sealed with XChaCha20-Poly1305 under a
// key derived from a one-time code of 50 bits; id is derived from the code
// too. (50 bits keep a casual reader out, not a determined one who copies
// the folder in the 10 minutes: the fingerprint check is what stops a
// forged answer.)
// The new machine answers pairing/<id>/request with its X25519 and Ed25519
// public keys and its name, sealed the same way. Both screens show a fingerprint (SHA-256 over both keys and
// ids, as 10 digits); only when they match does the admin approve, and the
// vault keys, the keyring, the roster and the epoch keys are sealed to the
// new machine in pairing/<id>/grant. The folder never holds a usable key.
//
// Test vectors are in testdata/batch-vector.json.
package sync
