package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// TestJudgeEnvelope: what receiving does with a file at a place in a
// device's log, judged without a database or a key.
func TestJudgeEnvelope(t *testing.T) {
	const vault, dev = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0190a1b2-0000-7000-8000-000000000001"
	prev := make([]byte, 32)
	prev[0] = 7
	good := func() batchFacts {
		h := cvsync.Header{VaultID: vault, Class: cvsync.General, Device: dev, Seq: 5, Version: 3}
		copy(h.PrevHash[:], prev)
		return batchFacts{place: 5, device: dev, header: h, vaultID: vault, prevSeq: 4, prevHash: prev, prevVersion: 3,
			known: true, clinical: true}
	}
	cases := []struct {
		name   string
		change func(f *batchFacts)
		want   verdict
		kind   ProblemKind
	}{
		{"genuine next batch", func(f *batchFacts) {}, apply, ""},
		{"newer format waits", func(f *batchFacts) { f.headerErr = fmt.Errorf("x: %w", cvsync.ErrNewerFormat) }, hold, ProblemNewerFormat},
		{"junk halts", func(f *batchFacts) { f.headerErr = cvsync.ErrMalformed }, halt, ProblemMalformed},
		{"copied from another place", func(f *batchFacts) { f.header.Seq = 3 }, halt, ProblemMisplaced},
		{"another vault", func(f *batchFacts) { f.header.VaultID = "0190a1b2-c3d4-7e5f-8a9b-ffffffffffff" }, halt, ProblemWrongVault},
		{"fork: another previous hash", func(f *batchFacts) { f.header.PrevHash[0] = 8 }, halt, ProblemNotNext},
		{"first batch must follow zeros", func(f *batchFacts) { f.place, f.header.Seq, f.prevSeq, f.prevHash = 1, 1, 0, nil }, halt, ProblemNotNext},
		{"revoked device", func(f *batchFacts) { f.revoked = true }, halt, ProblemRevokedDevice},
		{"device not in the roster yet", func(f *batchFacts) { f.known = false }, hold, ProblemUnknownDevice},
		{"not signed by the log's device", func(f *batchFacts) { f.deviceSig = cvsync.ErrBadDeviceSignature }, halt, ProblemDeviceSignature},
		{"unsigned format after a signed one", func(f *batchFacts) { f.header.Version = 2 }, halt, ProblemUnsignedFormat},
		{"unsigned format before the device upgraded", func(f *batchFacts) { f.header.Version, f.prevVersion = 2, 2 }, apply, ""},
		{"clinical without a clinician: kept sealed", func(f *batchFacts) { f.header.Class, f.clinical = cvsync.Clinical, false }, keepSealed, ""},
		{"junk clinical without a clinician: halted", func(f *batchFacts) {
			f.header.Class, f.clinical, f.deviceSig = cvsync.Clinical, false, cvsync.ErrBadDeviceSignature
		}, halt, ProblemDeviceSignature},
		{"resealed: its place was checked when kept", func(f *batchFacts) { f.resealed, f.prevSeq = true, 9 }, apply, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := good()
			c.change(&f)
			j := judgeEnvelope(f)
			if j.verdict != c.want || j.kind != c.kind {
				t.Fatalf("got %v %q (%s), want %v %q", j.verdict, j.kind, j.detail, c.want, c.kind)
			}
		})
	}
}

// TestJudgeRecords: an opened batch against its signer's standing, role
// and clock.
func TestJudgeRecords(t *testing.T) {
	now := testEpoch
	const signer = "0190a1b2-0000-7000-8000-000000000003"
	rec := func(table string, at time.Time, cols map[string]*string) cvsync.Record {
		ts := cvsync.Timestamp{Wall: uint64(at.UnixMilli()), Device: "0190a1b2-0000-7000-8000-000000000001"}
		row := "row"
		if table == "keyring_slots" {
			row = signer
		}
		return cvsync.Record{HLC: ts.String(), Table: table, RowID: row, Columns: cols, Author: signer}
	}
	v := "x"
	one := map[string]*string{"given": &v}
	own := signerFacts{role: Receptionist, ownSlot: 2, ownName: "Rita", ownPub: ownPub}
	cases := []struct {
		name  string
		class cvsync.Class
		recs  []cvsync.Record
		sf    signerFacts
		want  verdict
		kind  ProblemKind
	}{
		{"receptionist registers a patient", cvsync.General, []cvsync.Record{rec("patients", now, one)}, signerFacts{role: Receptionist}, apply, ""},
		{"unknown signer waits", cvsync.General, nil, signerFacts{openErr: errUnknownSigner}, hold, ProblemUnknownSigner},
		{"wrong key", cvsync.General, nil, signerFacts{openErr: cvsync.ErrDecrypt}, halt, ProblemDecrypt},
		{"forged signature", cvsync.General, nil, signerFacts{openErr: cvsync.ErrBadSignature}, halt, ProblemSignature},
		{"removed before the records", cvsync.General, []cvsync.Record{rec("patients", now, one)},
			signerFacts{role: Admin, removedAt: now.Add(-time.Minute).Unix()}, halt, ProblemRemovedSigner},
		{"removed after the records (offline work)", cvsync.General, []cvsync.Record{rec("patients", now.Add(-time.Hour), one)},
			signerFacts{role: Admin, removedAt: now.Add(-time.Minute).Unix()}, apply, ""},
		{"receptionist signs clinical", cvsync.Clinical, []cvsync.Record{rec("allergies", now, one)}, signerFacts{role: Receptionist}, halt, ProblemRole},
		{"clinical table in a general batch", cvsync.General, []cvsync.Record{rec("allergies", now, one)}, signerFacts{role: Admin}, halt, ProblemRole},
		{"receptionist changes staff", cvsync.General, []cvsync.Record{rec("users", now, one)}, signerFacts{role: Receptionist}, halt, ProblemRole},
		{"records named as someone else's", cvsync.General, []cvsync.Record{func() cvsync.Record {
			r := rec("patients", now, one)
			r.Author = "0190a1b2-0000-7000-8000-000000000004"
			return r
		}()}, signerFacts{role: Admin}, halt, ProblemRole},
		{"own slot, newer", cvsync.General, []cvsync.Record{rec("keyring_slots", now, slotCols(signer, 3, "Rita", "receptionist"))}, own, apply, ""},
		{"own slot, an older copy", cvsync.General, []cvsync.Record{rec("keyring_slots", now, slotCols(signer, 2, "Rita", "receptionist"))}, own, halt, ProblemRole},
		{"own slot, a colleague's name", cvsync.General, []cvsync.Record{rec("keyring_slots", now, slotCols(signer, 3, "Dr Omar", "receptionist"))}, own, halt, ProblemRole},
		{"own slot, role written apart from a role change", cvsync.General, []cvsync.Record{rec("keyring_slots", now, slotCols(signer, 3, "Rita", "clinician"))}, own, apply, ""},
		{"own slot not here yet", cvsync.General, []cvsync.Record{rec("keyring_slots", now, slotCols(signer, 3, "Rita", "receptionist"))}, signerFacts{role: Receptionist}, hold, ProblemUnknownSigner},
		{"clock ahead waits", cvsync.General, []cvsync.Record{rec("patients", now.Add(time.Hour), one)}, signerFacts{role: Admin}, hold, ProblemClockAhead},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := cvsync.Header{Class: c.class, Signer: signer, Seq: 1}
			j := judgeRecords(h, c.recs, c.sf, now)
			if j.verdict != c.want || j.kind != c.kind {
				t.Fatalf("got %v %q (%s), want %v %q", j.verdict, j.kind, j.detail, c.want, c.kind)
			}
		})
	}
	if j := judgeRecords(cvsync.Header{}, nil, signerFacts{openErr: errors.New("other")}, now); j.verdict != halt {
		t.Fatalf("an unreadable batch: %+v", j)
	}
}

// slotCols is a keyring_slots record's columns for a slot of user.
func slotCols(user string, version int, name, role string) map[string]*string {
	js, _ := json.Marshal(store.Slot{UserID: user, Version: version, Name: name, Role: role, PublicKey: ownPub})
	v := string(js)
	return map[string]*string{"slot": &v}
}

// ownPub stands for a slot's X25519 public key in the judge's table.
var ownPub = []byte("0123456789abcdef0123456789abcdef")
