package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// A clinical key that came wrapped (while no clinician was here) is
// stored when a clinician signs in, and its wrapped copy goes only once
// it is stored: a failed save (a full disk) keeps it for the next pass.
func TestUnwrappedEpochKeyIsKeptWhenSavingItFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	const epoch = uint32(7 << 16)
	wk, err := s.clinicalWrapKey(epoch)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	name := fmt.Sprintf("epoch_clinical_wrapped_%d", epoch)
	if err := setSettingDB(ctx, s.general, name, base64.StdEncoding.EncodeToString(store.SealBox(wk, key, nil))); err != nil {
		t.Fatal(err)
	}
	// The disk refuses the write.
	if _, err := s.clinical.ExecContext(ctx, `CREATE TRIGGER full_disk BEFORE INSERT ON sync_keys BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	folder := cvsync.Folder{Dir: t.TempDir()}
	var rep SyncReport
	s.mu.Lock()
	err = s.installEpochs(ctx, folder, &rep)
	s.mu.Unlock()
	if err == nil {
		t.Fatal("a failed save of the clinical key was not reported")
	}
	if v, _ := readSetting(ctx, s.general, name); v == "" {
		t.Fatal("the wrapped key was deleted though storing it failed: the key is lost")
	}
	// The disk has room again: the next pass stores it.
	if _, err := s.clinical.ExecContext(ctx, `DROP TRIGGER full_disk`); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	err = s.installEpochs(ctx, folder, &rep)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if !hasSyncKey(ctx, s.clinical, epoch) || func() bool { v, _ := readSetting(ctx, s.general, name); return v != "" }() {
		t.Fatal("the next pass did not store the key and drop the wrapped copy")
	}
}
