package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/store"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// What a relay (a NATS JetStream server) holds for a practice, and what
// each computer may do there. The relay learns no names: a vault is a
// stream named from a hash of its id, a computer a subject token named
// from a hash of the vault's and its own id, a path one hex token per
// element. Everything stored is a sealed envelope or a sealed file.
//
//	CV_<vault>                          the vault's stream (file storage)
//	cv.<vault>.b.<device>.<seq>         a computer's batch, written once
//	cv.<vault>.d.<device>               the computer's id (for listing)
//	cv.<vault>.f.<hex>.<hex>…           a path (epochs/…, audit/…)
//	cv.<vault>.x.<subject…>.<n>         part n of a message too big for one
//	CVPAIR: cvpair.<hex>.<hex>…         pairing files (no vault known yet)
//	cvnote.<vault>                      "something was stored" (not kept)
//	cvrelay.claim, cvrelay.access       the relay's access list (relay serve)

// RelayPairStream is the stream that holds pairing files: a computer
// joining knows no vault yet, only the relay and the code.
const RelayPairStream = "CVPAIR"

// Relay control subjects of a relay made by `clinicvault relay serve`.
const (
	RelayClaimSubject  = "cvrelay.claim"
	RelayAccessSubject = "cvrelay.access"
	// RelayGuestUser may read and write pairing files only: a computer
	// joining has no credentials yet. Its password is no secret.
	RelayGuestUser     = "pairing"
	RelayGuestPassword = "pairing"
	// RelayClaimUser connects once, with the claim code relay serve
	// printed, to hand the relay its first access list.
	RelayClaimUser = "claim"
)

func relayHash(label string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(label))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// RelayVaultName is a vault's opaque name on a relay.
func RelayVaultName(vaultID string) string { return relayHash(store.LabelRelayVault, vaultID) }

// RelayDeviceName is a computer's opaque name on a relay.
func RelayDeviceName(vaultID, deviceID string) string {
	return relayHash(store.LabelRelayDevice, vaultID, deviceID)
}

// RelayNoteSubject is where a computer says, in an empty message, that
// it has just stored something of the vault: the others watch it, rather
// than the stream's subjects (which would bring them every batch twice,
// once to be woken and once when they read it). Nothing is kept of it.
func RelayNoteSubject(vault string) string { return "cvnote." + vault }

// RelayStream is the name of a vault's stream.
func RelayStream(vault string) string { return "CV_" + vault }

// RelaySubjects is what a vault's stream holds.
func RelaySubjects(vault string) string { return "cv." + vault + ".>" }

// BatchSubject is where a computer's batch seq lives.
func BatchSubject(vault, device string, seq uint64) string {
	return "cv." + vault + ".b." + device + "." + strconv.FormatUint(seq, 10)
}

// pathSubject is where a slash path lives: pairing files in the pairing
// stream, the rest in the vault's.
func pathSubject(vault, rel string) (string, error) {
	elems := strings.Split(strings.Trim(rel, "/"), "/")
	prefix := "cv." + vault + ".f"
	if elems[0] == "pairing" {
		prefix, elems = "cvpair", elems[1:]
	}
	var b strings.Builder
	b.WriteString(prefix)
	for _, e := range elems {
		if e == "" || e == "." || e == ".." {
			return "", fmt.Errorf("sync: %q is not a path the relay holds", rel)
		}
		b.WriteByte('.')
		b.WriteString(hex.EncodeToString([]byte(e)))
	}
	return b.String(), nil
}

// partSubject is where part n (from 1) of a long message at subject lives.
func partSubject(subject string, n int) string {
	if rest, ok := strings.CutPrefix(subject, "cvpair."); ok {
		return "cvpair.x." + rest + "." + strconv.Itoa(n)
	}
	// cv.<vault>.<kind>… → cv.<vault>.x.<kind>…
	parts := strings.SplitN(subject, ".", 3)
	return parts[0] + "." + parts[1] + ".x." + parts[2] + "." + strconv.Itoa(n)
}

// DeviceNKey is the NATS user key of a computer on a relay: its Ed25519
// device key (NATS user keys are Ed25519), so a relay adds nothing to
// what a computer must keep.
func DeviceNKey(ed25519Seed []byte) (nkeys.KeyPair, error) {
	if len(ed25519Seed) != 32 {
		return nil, errors.New("sync: a device seed is 32 bytes")
	}
	return nkeys.FromRawSeed(nkeys.PrefixByteUser, ed25519Seed)
}

// RelayMember is one computer the relay admits.
type RelayMember struct {
	NKey   string `json:"nkey"`   // its NATS user key (U…)
	Device string `json:"device"` // its opaque name (RelayDeviceName)
}

// RelayAccess is the list of computers a relay admits, signed by one of
// the practice's admins (their own signing key, which only they hold:
// not a computer's key, which anyone at that computer can read). The
// first list comes with the claim code; later ones must be signed by an
// admin of the list the relay holds. Each list has a higher version than
// the last; a relay keeps only the newest.
type RelayAccess struct {
	Vault   string        `json:"vault"` // RelayVaultName
	Version int64         `json:"version"`
	Members []RelayMember `json:"members"`
	Admins  []string      `json:"admins"` // the admins' signing keys, as NKeys (U…)
	Signer  string        `json:"signer"` // an admin's NKey
	Sig     []byte        `json:"sig"`
}

// IsAdmin reports whether nkey is one of the list's admins.
func (a *RelayAccess) IsAdmin(nkey string) bool {
	return slices.Contains(a.Admins, nkey)
}

func (a *RelayAccess) signed() []byte {
	ms := append([]RelayMember(nil), a.Members...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].NKey < ms[j].NKey })
	admins := slices.Clone(a.Admins)
	slices.Sort(admins)
	b, _ := json.Marshal(struct {
		Label   string        `json:"label"`
		Vault   string        `json:"vault"`
		Version int64         `json:"version"`
		Members []RelayMember `json:"members"`
		Admins  []string      `json:"admins"`
		Signer  string        `json:"signer"`
	}{store.LabelRelayAccess, a.Vault, a.Version, ms, admins, a.Signer})
	return b
}

// Sign signs the list with kp, which becomes its signer.
func (a *RelayAccess) Sign(kp nkeys.KeyPair) error {
	pub, err := kp.PublicKey()
	if err != nil {
		return err
	}
	a.Signer = pub
	a.Sig, err = kp.Sign(a.signed())
	return err
}

// ErrRelayAccess means an access list is malformed or not signed by whom
// it says.
var ErrRelayAccess = errors.New("sync: the relay's access list is not valid")

// Verify checks the list's signature and form.
func (a *RelayAccess) Verify() error {
	kp, err := nkeys.FromPublicKey(a.Signer)
	if err != nil || !strings.HasPrefix(a.Signer, "U") {
		return fmt.Errorf("%w: signer", ErrRelayAccess)
	}
	if kp.Verify(a.signed(), a.Sig) != nil {
		return fmt.Errorf("%w: signature", ErrRelayAccess)
	}
	if !hexToken(a.Vault) {
		return fmt.Errorf("%w: vault", ErrRelayAccess)
	}
	if len(a.Admins) == 0 {
		return fmt.Errorf("%w: no admin", ErrRelayAccess)
	}
	for _, k := range a.Admins {
		if _, err := nkeys.FromPublicKey(k); err != nil || !strings.HasPrefix(k, "U") {
			return fmt.Errorf("%w: admin", ErrRelayAccess)
		}
	}
	for _, m := range a.Members {
		if _, err := nkeys.FromPublicKey(m.NKey); err != nil || !strings.HasPrefix(m.NKey, "U") || !hexToken(m.Device) {
			return fmt.Errorf("%w: member", ErrRelayAccess)
		}
	}
	return nil
}

// Has reports whether nkey is a member.
func (a *RelayAccess) Has(nkey string) bool {
	for _, m := range a.Members {
		if m.NKey == nkey {
			return true
		}
	}
	return false
}

func hexToken(s string) bool {
	if len(s) != 24 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// RelayPermissions is what a member computer may publish and subscribe
// to on a relay made by relay serve: its own batches and its id, paths
// (each written once, or replaced by whom may: checked by the computers
// reading them), pairing files, and the reads JetStream needs. It may
// not create, change, purge or delete streams, nor publish into another
// computer's batches.
func RelayPermissions(vault, device string) (pubAllow, subAllow []string) {
	stream := RelayStream(vault)
	pubAllow = []string{
		"cv." + vault + ".b." + device + ".*",
		"cv." + vault + ".x.b." + device + ".>",
		"cv." + vault + ".d." + device,
		"cv." + vault + ".f.>",
		"cv." + vault + ".x.f.>",
		"cvpair.>",
		RelayAccessSubject,
		RelayNoteSubject(vault),
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO." + stream,
		"$JS.API.STREAM.INFO." + RelayPairStream,
		"$JS.API.STREAM.MSG.GET." + stream,
		"$JS.API.STREAM.MSG.GET." + RelayPairStream,
		"$JS.API.DIRECT.GET." + stream + ".>",
		"$JS.API.DIRECT.GET." + RelayPairStream + ".>",
		"$JS.API.DIRECT.GET." + stream,
		"$JS.API.DIRECT.GET." + RelayPairStream,
	}
	subAllow = []string{"_INBOX.>", "cv." + vault + ".>", "cvpair.>", RelayNoteSubject(vault)}
	return
}

// RelayGuestPermissions is what a computer joining may do: pairing files
// only.
func RelayGuestPermissions() (pubAllow, subAllow []string) {
	return []string{
			"cvpair.>",
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO." + RelayPairStream,
			"$JS.API.STREAM.MSG.GET." + RelayPairStream,
			"$JS.API.DIRECT.GET." + RelayPairStream + ".>",
			"$JS.API.DIRECT.GET." + RelayPairStream,
		},
		[]string{"_INBOX.>", "cvpair.>"}
}

// RelayStreamConfig is a vault's stream: file storage, one message per
// subject (a batch's place holds one batch; a replaced path keeps only
// the newest), republishes within two minutes dropped by message id,
// direct reads allowed. replicas is 1 on one server, 3 on a cluster.
func RelayStreamConfig(vault string, replicas int) jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:              RelayStream(vault),
		Description:       "ClinicVault: one practice's sealed sync batches",
		Subjects:          []string{RelaySubjects(vault)},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		Duplicates:        2 * time.Minute,
		AllowDirect:       true,
		Replicas:          replicas,
	}
}

// RelayPairStreamConfig is the pairing stream: small, and nothing in it
// outlives its code.
func RelayPairStreamConfig(replicas int) jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:              RelayPairStream,
		Description:       "ClinicVault: pairing files (sealed, short-lived)",
		Subjects:          []string{"cvpair.>"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		MaxAge:            3 * PairingExpiry,
		MaxBytes:          64 << 20,
		MaxMsgSize:        1 << 20,
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
		Replicas:          replicas,
	}
}
