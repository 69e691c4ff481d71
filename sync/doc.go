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
//	pairing/<locator>/offer|c-|n-|r-|g-<id>|void  pairing files (pairing_proto.go)
//
// Each device writes only its own files, through a temp file and a hard
// link (so two writers of one name cannot both succeed), and never changes
// them; seq counts 1, 2, 3… per device across both classes. The one
// exception: a device that finds, at its own next number, a file it did
// not write (device signature) writes its genuine batch over it; one it
// did write (a kill before its database recorded the batch as sent) it
// adopts as sent.
//
// The folder may be on Windows, or read by it (package sync/folder):
// a write, a replace or a deletion that meets a file held open by
// another program (an antivirus, an indexer, a cloud client, another
// computer) is tried again for two seconds, then fails with ErrInUse,
// having changed nothing; names are found in any case, device ids are
// lower case, and no two names differ only by case; every path is
// checked (ErrBadName) so that none leads out of the folder or is one
// Windows refuses or changes; copies a cloud service leaves on a
// conflict ("000000000007 (1)", "… (conflicted copy …)",
// "…-DESKTOP-ABC") are never listed, and a sync pass reports them.
//
// # Batch envelope (version 3)
//
//	offset size
//	0      4    magic "CVSB"
//	4      1    version = 3 (1 and 2 are still read)
//	5      16   vault id (UUID bytes)
//	21     4    key epoch (big-endian)
//	25     1    class: 1 general, 2 clinical
//	26     16   device id
//	42     8    seq (big-endian, from 1)
//	50     32   SHA-256 of the device's previous envelope (zeros for seq 1)
//	82     16   signer: the user whose Ed25519 key signed the records
//	98     24   XChaCha20-Poly1305 nonce (random)
//	122    …    ciphertext
//	end-64 64   device signature (version 3)
//
// The ciphertext is XChaCha20-Poly1305 under the class's sync key for the
// epoch, with bytes 0–121 as associated data. Its plaintext is a 64-byte
// Ed25519 signature by the signer over "clinicvault.org/v1/sync-batch" ||
// bytes 0–121 || body, followed by the body: the records as a JSON array
// of {"h": hlc, "t": table, "r": row id, "m": {column: value or null, …},
// "d": device, "a": author}, compressed with DEFLATE. Every record's device
// must be the header's device. Version 1 records carried one column each
// as "c" (column) and "v" (value); a version-1 envelope with "m" records,
// or a version-2 or -3 one with "c"/"v" records, is malformed.
//
// Version 3 ends with an Ed25519 signature by the key of the device whose
// log the batch is in (the roster's ed25519_pub) over
// "clinicvault.org/v1/sync-batch-device" || header || ciphertext. A user's
// signing key alone no longer writes into another computer's log, and a
// computer without the sync key (a clinical batch where no clinician is
// signed in) still checks that the batch is that device's. The envelope's
// hash, which the next batch's previous-hash names, covers the device
// signature. Vectors: testdata/batch-vector-v3.json (re-encoded byte for
// byte), testdata/batch-vector-v2.json (re-encoded as version 2, opens,
// has no device signature) and testdata/batch-vector-v1.json (still
// opens).
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
// A machine takes each other device's batches in order, and judges each
// one: apply, keep sealed, hold, or halt. A batch is refused and the
// device's log halts there when: it is not a batch (damaged, or not yet
// fully copied by a cloud folder); its header names another place or
// another vault; its seq or previous hash does not follow what was taken
// (a replay or fork); the device was revoked; it is not signed by the
// device whose log it is in (or is of the unsigned format 1 or 2 after
// that device's log had a signed batch); it does not authenticate under
// the epoch's key; its user signature does not verify; its signer had
// been removed before the records' time; or a record is not one the
// signer's role may write (clinical records need a clinician or admin;
// staff, devices and the keyring need an admin, but a user may change
// their own slot). A refused batch is never an anchor: nothing after it is
// applied, every pass judges the file in its place again, and when the
// genuine batch is back the log goes on. A batch is held (nothing is
// recorded, the next pass tries again) when it is of a newer format, its
// device or signer is not in the roster yet, the epoch's key is not here
// yet, the device's clock runs more than five minutes ahead (the local
// clock is not moved), or applying it failed (a full disk, a busy
// database). A machine where no clinician is signed in checks a clinical
// batch's place and device signature, keeps it sealed, and applies it at
// a clinician's next pass. Applying happens in one transaction; applying
// the same batch twice changes nothing. A sender signs only records its
// signed-in user may write; the rest wait for someone who may.
//
// # Pairing
//
// The admin's machine writes pairing/<locator>/offer: the Argon2id salt
// and parameters, and, sealed under a key stretched from the code's 50-bit
// secret, its X25519 key, the vault id and an expiry 10 minutes away. The
// locator is the code's first group, random and public. The new machine
// commits to its answer (c-<id>: a hash of its X25519 and Ed25519 public
// keys, its id, its name and a random nonce); the admin's machine answers
// the first commitment with its own nonce (n-<id>); the new machine then
// reveals its answer (r-<id>), which must hash to the commitment. Both
// screens show a fingerprint (SHA-256 over the offer, both nonces and the
// answer, as 12 digits); only when they match does the admin approve, and
// the vault keys, the keyring, the roster and the epoch keys are sealed to
// the new machine in g-<id> — the general key, never the clinical one: the
// clinical key reaches a machine only with a clinician's own grant, and
// later epochs' clinical sync keys travel wrapped under a key derived from
// it. A second commitment voids the invitation (void); an answer naming a
// device the roster holds is refused. The new machine deletes the pairing
// files once it has read the grant; an expired or cancelled invitation
// takes its files with it; every sync pass deletes pairing files older
// than twice the code's life.
//
// Test vectors are in testdata/batch-vector-v*.json.
package sync
