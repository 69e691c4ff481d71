package app

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"pgregory.net/rapid"
)

// departed is what a removed member of staff keeps: their slot as it was
// (from a copy of vault.keys), opened with their passphrase.
type departed struct {
	name    string
	in      insider
	removal uint32 // the newest epoch the remover held right after the removal
}

// epochKeysOpenableBy returns the epochs whose keys a departed person can
// open from the folder's epoch files, given every computer's device key
// (the worst case: copies of every computer's general.db).
func epochKeysOpenableBy(t *testing.T, dir string, d departed, deviceKeys [][]byte) map[uint32]bool {
	t.Helper()
	out := map[uint32]bool{}
	epochs, err := cvsync.Folder{Dir: dir}.Epochs()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range epochs {
		names, _ := cvsync.Folder{Dir: dir}.List(fmt.Sprintf("epochs/%d", e))
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(dir, "epochs", strconv.FormatUint(uint64(e), 10), n))
			if err != nil {
				continue
			}
			var ef cvsync.EpochFile
			if json.Unmarshal(data, &ef) != nil {
				continue
			}
			for _, dk := range deviceKeys {
				inner, err := cvsync.OpenFrom(dk, store.LabelEpochUserOnDevice, ef.Box)
				if err != nil {
					continue
				}
				if _, err := cvsync.OpenFrom(d.in.secrets.Identity, store.LabelEpochUser, inner); err == nil {
					out[e] = true
				}
			}
		}
	}
	return out
}

// TestDeparturesProperty: 3–4 replicas make random edits, add and remove
// staff, change roles and sync with random partitions. Afterwards every
// replica holds the same data, and no departed person's keys — their old
// slot, with every computer's device key — open the keys of any epoch
// made after their removal, nor any batch sealed under one.
func TestDeparturesProperty(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		flag.Set("rapid.checks", "5")
	}
	rapid.Check(t, func(rt *rapid.T) {
		f := newFixture(t)
		ctx := context.Background()
		dir := t.TempDir()
		n := rapid.IntRange(3, 4).Draw(rt, "replicas")
		reps := replicas(t, f, dir, n)
		var deviceKeys [][]byte
		for _, r := range reps {
			deviceKeys = append(deviceKeys, r.devKeys.x25519)
		}
		const staffPass = "copper lantern meadow quietly"
		var staff []string
		var gone []departed
		var mrns []string
		steps := rapid.IntRange(12, 30).Draw(rt, "steps")
		for step := 0; step < steps; step++ {
			r := reps[rapid.IntRange(0, n-1).Draw(rt, "replica")]
			f.clk.Advance(1e6)
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0:
				p, _, err := r.AddPatient(ctx, Patient{Given: "Ana", Family: fmt.Sprintf("Fam%d", step), DOB: "1980-01-02"})
				if err == nil {
					mrns = append(mrns, p.MRN)
				}
			case 1:
				if len(mrns) > 0 {
					r.AddAllergy(ctx, mrns[rapid.IntRange(0, len(mrns)-1).Draw(rt, "patient")], Allergy{Substance: "Latex"})
				}
			case 2:
				name := fmt.Sprintf("Staff %d", step)
				enr, _ := NewEnrollment(practice, name)
				role := rapid.SampledFrom([]Role{Receptionist, Clinician, Admin}).Draw(rt, "role")
				if r.AddUser(ctx, name, role, staffPass, enr) == nil {
					staff = append(staff, name)
				}
			case 3:
				if len(staff) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(staff)-1).Draw(rt, "leaver")
				kr, err := store.LoadKeyring(r.v.Dir)
				if err != nil {
					rt.Fatal(err)
				}
				if _, err := kr.SlotByName(staff[i]); err != nil {
					continue // not on this replica yet
				}
				in := unwrapInsider(t, kr, staff[i], staffPass)
				if r.RemoveUser(ctx, staff[i]) != nil {
					continue
				}
				gone = append(gone, departed{staff[i], in, r.currentEpoch(ctx)})
				staff = append(staff[:i], staff[i+1:]...)
			case 4:
				if len(staff) > 0 {
					r.SetRole(ctx, staff[rapid.IntRange(0, len(staff)-1).Draw(rt, "promoted")], rapid.SampledFrom([]Role{Receptionist, Clinician}).Draw(rt, "to"))
				}
			case 5:
				if _, err := r.Sync(ctx, dir); err != nil {
					rt.Fatalf("sync: %v", err)
				}
			}
		}
		for round := 0; round < 4; round++ {
			for _, r := range reps {
				if _, err := r.Sync(ctx, dir); err != nil {
					rt.Fatalf("final sync: %v", err)
				}
			}
		}
		want := replicatedDump(t, reps[0])
		for i, r := range reps[1:] {
			if got := replicatedDump(t, r); got != want {
				var probs []string
				for j, r := range reps {
					rep, _ := r.Sync(ctx, dir)
					for _, p := range rep.Problems {
						probs = append(probs, fmt.Sprintf("replica %d: %s", j, p))
					}
				}
				rt.Fatalf("replica %d differs from replica 0 (problems: %s):\n%s\n--- vs ---\n%s", i+1, strings.Join(probs, "; "), got, want)
			}
		}
		// Epochs made while replicas were apart may have been sealed to
		// someone another replica had removed (nothing can stop that);
		// once they meet, an admin's pass starts a new one without them.
		// What counts: the epoch everyone seals under afterwards, and the
		// removal's own epoch, open with nothing a departed person holds.
		for _, d := range gone {
			open := epochKeysOpenableBy(t, dir, d, deviceKeys)
			cur := reps[0].currentEpoch(ctx)
			if open[cur] || cur == 0 {
				rt.Fatalf("%s, removed, holds the practice's current epoch %d", d.name, cur)
			}
			if open[d.removal] {
				rt.Fatalf("%s, removed, holds the epoch made at their removal %d", d.name, d.removal)
			}
		}
		// The database keys: every replica's files end under one general
		// key (and one clinical key), and no departed person's keys open
		// them — whatever was granted to them while replicas were apart.
		for i, r := range reps {
			if !bytesEqual(r.kGen, reps[0].kGen) {
				heads, err := generalLine.heads(ctx, r.general)
				rt.Fatalf("replica %d's general.db is under another key than replica 0's (heads %v, %v)", i, heads, err)
			}
			for _, d := range gone {
				if review3OpensKind(r.v.Dir, store.General, d.in.kGen) {
					rt.Fatalf("%s, removed, opens replica %d's general.db with their old general key", d.name, i)
				}
				if review3Opens(r.v.Dir, d.in.kClin) {
					rt.Fatalf("%s, removed, opens replica %d's clinical.db with their old clinical key", d.name, i)
				}
			}
		}
		// Every replica ends on one current epoch, which no departed person opens.
		cur := reps[0].currentEpoch(ctx)
		for i, r := range reps {
			if got := r.currentEpoch(ctx); got != cur && len(gone) > 0 {
				rt.Fatalf("replica %d is on epoch %d, replica 0 on %d", i, got, cur)
			}
		}
		for _, r := range reps {
			r.Lock(ctx)
		}
	})
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }
