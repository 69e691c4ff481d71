package relayserver

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Files in Store besides the JetStream store and the certificate.
const (
	accessFile = "access.json" // the current signed access list
	claimFile  = "claim"       // the claim code, until it is used
)

// crockford is Crockford's base32 alphabet: no I, L, O or U, so a code
// read aloud or typed from paper is hard to get wrong.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// claimGroups and claimGroupLen shape a claim code: four groups of five
// characters, 100 random bits.
const (
	claimGroups   = 4
	claimGroupLen = 5
)

// newClaimCode makes a claim code such as 7K2QM-X0D9F-RT4ZA-1HC8W.
func newClaimCode() (string, error) {
	raw := make([]byte, claimGroups*claimGroupLen)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("relayserver: %w", err)
	}
	var b strings.Builder
	for i, c := range raw {
		if i > 0 && i%claimGroupLen == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(crockford[c&31]) // 256 is a multiple of 32: no bias
	}
	return b.String(), nil
}

// NormalizeClaimCode is a claim code as typed (any case, spaces or dashes
// anywhere, O for 0, I or L for 1) in the form the relay takes. What is
// not a claim code is returned as it was, to be refused.
func NormalizeClaimCode(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		switch {
		case c == '-' || unicode.IsSpace(c):
			continue
		case c == 'O':
			c = '0'
		case c == 'I' || c == 'L':
			c = '1'
		}
		if b.Len()%(claimGroupLen+1) == claimGroupLen {
			b.WriteByte('-')
		}
		b.WriteRune(c)
	}
	if code := b.String(); validClaimCode(code) {
		return code
	}
	return s
}

// validClaimCode reports whether s has a claim code's form.
func validClaimCode(s string) bool {
	if len(s) != claimGroups*(claimGroupLen+1)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (i+1)%(claimGroupLen+1) == 0 {
			if s[i] != '-' {
				return false
			}
		} else if !strings.ContainsRune(crockford, rune(s[i])) {
			return false
		}
	}
	return true
}

// loadOrMakeClaim reads the claim code kept in dir, making it on the
// first start: a relay restarted before it is claimed keeps the code it
// printed.
func loadOrMakeClaim(dir string) (string, error) {
	path := filepath.Join(dir, claimFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if code := strings.TrimSpace(string(b)); validClaimCode(code) {
			return code, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("relayserver: read the claim code: %w", err)
	}
	code, err := newClaimCode()
	if err != nil {
		return "", err
	}
	if err := store.WriteFileAtomic(path, []byte(code+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("relayserver: keep the claim code: %w", err)
	}
	return code, nil
}

// loadAccess reads the access list kept in dir, nil if the relay is not
// claimed yet.
func loadAccess(dir string) (*cvsync.RelayAccess, error) {
	b, err := os.ReadFile(filepath.Join(dir, accessFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("relayserver: read the access list: %w", err)
	}
	var a cvsync.RelayAccess
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("relayserver: the access list in %s is damaged: %w", dir, err)
	}
	if err := a.Verify(); err != nil {
		return nil, fmt.Errorf("relayserver: the access list in %s: %w", dir, err)
	}
	if a.Version < 1 {
		return nil, fmt.Errorf("relayserver: the access list in %s has no version", dir)
	}
	return &a, nil
}

// saveAccess replaces the access list kept in dir.
func saveAccess(dir string, a *cvsync.RelayAccess) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(dir, accessFile), b, 0o600)
}

func copyAccess(a *cvsync.RelayAccess) *cvsync.RelayAccess {
	if a == nil {
		return nil
	}
	c := *a
	c.Members = append([]cvsync.RelayMember(nil), a.Members...)
	c.Sig = append([]byte(nil), a.Sig...)
	return &c
}

func permissions(pub, sub []string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
	}
}

func guestUser() *server.User {
	return &server.User{
		Username:    cvsync.RelayGuestUser,
		Password:    GuestPassword,
		Permissions: permissions(cvsync.RelayGuestPermissions()),
	}
}

// claimUser may only hand the relay its first access list and hear the
// answer.
func claimUser(code string) *server.User {
	return &server.User{
		Username:    cvsync.RelayClaimUser,
		Password:    code,
		Permissions: permissions([]string{cvsync.RelayClaimSubject}, []string{"_INBOX.>"}),
	}
}

// memberUsers are the NKey users of the list's computers, each limited
// to its own batches (RelayPermissions).
func memberUsers(a *cvsync.RelayAccess) []*server.NkeyUser {
	seen := map[string]bool{}
	var users []*server.NkeyUser
	for _, m := range a.Members {
		if seen[m.NKey] {
			continue
		}
		seen[m.NKey] = true
		users = append(users, &server.NkeyUser{
			Nkey:        m.NKey,
			Permissions: permissions(cvsync.RelayPermissions(a.Vault, m.Device)),
		})
	}
	return users
}

// parseAccess reads a signed list from a request and checks what every
// list must be: validly signed by one of its own members, with a version
// and at least one member (a list of none would lock the relay for good).
func parseAccess(data []byte) (*cvsync.RelayAccess, string) {
	var a cvsync.RelayAccess
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, "not an access list"
	}
	if err := a.Verify(); err != nil {
		return nil, "the access list is not validly signed"
	}
	if a.Version < 1 {
		return nil, "the access list has no version"
	}
	if len(a.Members) == 0 {
		return nil, "the access list has no members"
	}
	// A version is a time (seconds, shifted 10 bits) and a count: one
	// dated ahead of the relay's clock would make every later list "not
	// newer", and leave computers revoked after it admitted for good.
	if a.Version>>10 > time.Now().Add(maxListAhead).Unix() {
		return nil, "the access list's version is dated ahead of the relay's clock"
	}
	keys, devices := map[string]bool{}, map[string]bool{}
	for _, m := range a.Members {
		if keys[m.NKey] || devices[m.Device] {
			return nil, "the access list names a computer twice"
		}
		keys[m.NKey], devices[m.Device] = true, true
	}
	return &a, ""
}

// maxListAhead is how far ahead of the relay's clock a list's version
// may be dated (the computers' clocks are not the relay's).
const maxListAhead = time.Hour

// sameMembers reports whether two lists admit the same computers.
func sameMembers(a, b *cvsync.RelayAccess) bool {
	if len(a.Members) != len(b.Members) {
		return false
	}
	want := map[cvsync.RelayMember]bool{}
	for _, m := range a.Members {
		want[m] = true
	}
	for _, m := range b.Members {
		if !want[m] {
			return false
		}
	}
	return true
}

// keepsNames reports why a, replacing cur, moves a computer's key onto
// other subjects or another key onto a computer's subjects ("" when it
// does not): a key's subjects are its computer's, whoever signs.
func keepsNames(cur, a *cvsync.RelayAccess) string {
	byKey, byDevice := map[string]string{}, map[string]string{}
	for _, m := range cur.Members {
		byKey[m.NKey], byDevice[m.Device] = m.Device, m.NKey
	}
	for _, m := range a.Members {
		if d, ok := byKey[m.NKey]; ok && d != m.Device {
			return "the access list moves a computer's key to another computer's place"
		}
		if k, ok := byDevice[m.Device]; ok && k != m.NKey {
			return "the access list gives a computer's place to another key"
		}
	}
	return ""
}

func refuse(m *nats.Msg, why string) {
	_ = m.Respond([]byte("refused: " + why))
}

// handleClaim answers a request on RelayClaimSubject: the first access
// list, from the computer that has the claim code (only it can publish
// here). The list must be signed by one of its members.
func (r *Relay) handleClaim(m *nats.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	if r.access != nil || r.claim == "" {
		refuse(m, "the relay is claimed already")
		return
	}
	a, why := parseAccess(m.Data)
	if a == nil {
		refuse(m, why)
		return
	}
	if !a.IsAdmin(a.Signer) {
		refuse(m, "the access list is not signed by one of its admins")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.js.CreateOrUpdateStream(ctx, cvsync.RelayStreamConfig(a.Vault, 1)); err != nil {
		r.logf("relay: claim: make the vault's stream: %v", err)
		refuse(m, "the relay cannot make the vault's stream")
		return
	}
	if _, err := r.js.CreateOrUpdateStream(ctx, cvsync.RelayPairStreamConfig(1)); err != nil {
		r.logf("relay: claim: make the pairing stream: %v", err)
		refuse(m, "the relay cannot make the pairing stream")
		return
	}
	if err := saveAccess(r.opts.Store, a); err != nil {
		r.logf("relay: claim: %v", err)
		refuse(m, "the relay cannot save the access list")
		return
	}
	// Admit the members now, so that a computer that hears "ok" can
	// connect as one at once.
	r.access = a
	if err := r.reload(); err != nil {
		r.logf("relay: claim: %v", err)
		r.access = nil
		if err := os.Remove(filepath.Join(r.opts.Store, accessFile)); err != nil {
			r.logf("relay: claim: remove the access list: %v", err)
		}
		refuse(m, "the relay cannot apply the access list")
		return
	}
	// The claim user stays until dropClaimUser removes it (serverOptions
	// adds it while claimUser is set).
	r.claimUser, r.claim = r.claim, ""
	if err := os.Remove(filepath.Join(r.opts.Store, claimFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Start removes it again: a claimed relay has no claim user.
		r.logf("relay: claim: remove the used claim code: %v", err)
	}
	_ = m.Respond([]byte("ok"))
	if err := r.nc.Flush(); err != nil {
		r.logf("relay: claim: %v", err)
	}
	go r.dropClaimUser()
}

// claimGrace is how long the claim user may outlive the claim, for the
// claiming computer to read the answer: nats.go drops an answer still on
// its way to the caller when the server closes the connection. Meanwhile
// the used claim code admits a connection that can only be told
// "refused".
const claimGrace = 5 * time.Second

// claimSettle is how long the claim user stays after the claiming
// computer hung up. A reload closes every connection still in its
// handshake (nats-server checks them again with no credentials yet), and
// the claiming computer connects as a member right after the answer: the
// reload waits until it is in.
const claimSettle = 2 * time.Second

// dropClaimUser removes the claim user claimSettle after its connections
// have gone (the claiming computer hung up after the answer) or
// claimGrace has passed, closing any that are left.
func (r *Relay) dropClaimUser() {
	defer close(r.claimGone)
	deadline := time.Now().Add(claimGrace)
	for time.Now().Before(deadline) {
		c, err := r.srv.Connz(&server.ConnzOptions{User: cvsync.RelayClaimUser, Username: true})
		if err != nil || c.NumConns == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-time.After(claimSettle):
	case <-r.done:
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.claimUser = ""
	if r.stopped {
		return
	}
	if err := r.reload(); err != nil {
		r.logf("relay: claim: %v", err)
	}
}

// handleAccess answers a request on RelayAccessSubject: a newer list,
// signed by a member of the current one. Computers it drops are
// disconnected at once and refused from then on.
func (r *Relay) handleAccess(m *nats.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	cur := r.access
	if cur == nil {
		refuse(m, "the relay is not claimed yet")
		return
	}
	a, why := parseAccess(m.Data)
	if a == nil {
		refuse(m, why)
		return
	}
	if a.Vault != cur.Vault {
		refuse(m, "the access list is for another vault")
		return
	}
	if a.Version == cur.Version && sameMembers(a, cur) {
		_ = m.Respond([]byte("ok")) // it has this list already (another computer sent it)
		return
	}
	if a.Version <= cur.Version {
		// "not newer": the relay holds a newer list, or another one at
		// this version (a computer that sees this says so).
		refuse(m, fmt.Sprintf("version %d is not newer than the relay's %d", a.Version, cur.Version))
		return
	}
	if !cur.IsAdmin(a.Signer) {
		refuse(m, "the access list is not signed by an admin of the practice")
		return
	}
	if why := keepsNames(cur, a); why != "" {
		refuse(m, why)
		return
	}
	if err := saveAccess(r.opts.Store, a); err != nil {
		r.logf("relay: access: %v", err)
		refuse(m, "the relay cannot save the access list")
		return
	}
	r.access = a
	if err := r.reload(); err != nil {
		r.logf("relay: access: %v", err)
		r.access = cur
		if err := saveAccess(r.opts.Store, cur); err != nil {
			r.logf("relay: access: restore the last list: %v", err)
		}
		refuse(m, "the relay cannot apply the access list")
		return
	}
	// In effect before the answer: a computer that hears "ok" knows the
	// ones it dropped are out. (One that dropped itself is out too, and
	// hears nothing.)
	_ = m.Respond([]byte("ok"))
}
