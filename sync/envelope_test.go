package sync

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// vectorFile is a test vector under testdata/: fixed keys and nonce, the
// records, and the exact envelope they must produce.
type vectorFile struct {
	Comment    string   `json:"comment"`
	KeyHex     string   `json:"key"`
	SignerSeed string   `json:"signer_seed"`
	DeviceSeed string   `json:"device_seed,omitempty"`
	Header     Header   `json:"header"`
	Records    []Record `json:"records"`
	Envelope   string   `json:"envelope"`
}

func fixedVector() vectorFile {
	v := vectorFile{
		Comment:    "A general batch (format version 3): device 1's first batch, epoch 0, signed by user 3 and by device 1. Key, signer seed, device seed and nonce are fixed; the envelope must decode to the records and re-encode identically.",
		KeyHex:     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		SignerSeed: "2021222324252627282930313233343536373839404142434445464748494a4b",
		DeviceSeed: "4041424344454647484950515253545556575859606162636465666768696a6b",
		Header: Header{VaultID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Epoch: 0, Class: General,
			Device: "0190a1b2-0000-7000-8000-000000000001", Seq: 1, Signer: "0190a1b2-0000-7000-8000-000000000003"},
	}
	for i := range v.Header.Nonce {
		v.Header.Nonce[i] = byte(0xa0 + i)
	}
	family, given, dob, phone := "Núñez", "José", "1980-03-02", "+44 20 7946 0001"
	v.Records = []Record{
		{HLC: "0190a1b2c3d4-0000-0190a1b2-0000-7000-8000-000000000001", Table: "patients", RowID: "0190a1b2-0000-7000-8000-0000000000aa",
			Columns: map[string]*string{"family": &family, "given": &given, "dob": &dob, "phone": &phone}, Device: v.Header.Device, Author: v.Header.Signer},
		{HLC: "0190a1b2c3d4-0001-0190a1b2-0000-7000-8000-000000000001", Table: "patients", RowID: "0190a1b2-0000-7000-8000-0000000000aa",
			Columns: map[string]*string{"phone": nil}, Device: v.Header.Device, Author: v.Header.Signer},
	}
	return v
}

func (v vectorFile) keys() ([]byte, ed25519.PrivateKey) {
	k, _ := hex.DecodeString(v.KeyHex)
	seed, _ := hex.DecodeString(v.SignerSeed)
	return k, ed25519.NewKeyFromSeed(seed)
}

// deviceKey is the vector's device key (format 3 and later).
func (v vectorFile) deviceKey() ed25519.PrivateKey {
	seed, _ := hex.DecodeString(fixedVector().DeviceSeed)
	if v.DeviceSeed != "" {
		seed, _ = hex.DecodeString(v.DeviceSeed)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func signerLookup(priv ed25519.PrivateKey) func(string) (ed25519.PublicKey, error) {
	return func(string) (ed25519.PublicKey, error) { return priv.Public().(ed25519.PublicKey), nil }
}

// TestVectors checks the format against testdata/batch-vector-v3.json,
// and (with CLINICVAULT_WRITE_VECTORS=1) writes it.
func TestVectors(t *testing.T) {
	v := fixedVector()
	key, signer := v.keys()
	device := v.deviceKey()
	env, _, err := seal(v.Header, v.Records, key, signer, device)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "batch-vector-v3.json")
	if os.Getenv("CLINICVAULT_WRITE_VECTORS") == "1" {
		v.Envelope = hex.EncodeToString(env)
		b, _ := json.MarshalIndent(v, "", "  ")
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vectorFile
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	if want.Envelope != hex.EncodeToString(env) {
		t.Fatal("the envelope format changed: the stored vector no longer matches")
	}
	b, err := Open(env, key, signerLookup(signer))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 2 || *b.Records[0].Columns["family"] != "Núñez" || b.Records[0].Fields() != 4 ||
		b.Records[1].Columns["phone"] != nil || b.Records[1].Fields() != 1 || b.Header.Seq != 1 || env[4] != 3 {
		t.Fatalf("decoded %+v", b)
	}
	if err := VerifyDevice(env, device.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("device signature: %v", err)
	}
}

// TestVersion2Vector: a version-2 batch (no device signature), as shared
// folders still hold, opens, re-encodes identically, and is told apart by
// VerifyDevice.
func TestVersion2Vector(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "batch-vector-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	key, signer := v.keys()
	env, _ := hex.DecodeString(v.Envelope)
	again, _, err := sealAs(2, v.Header, v.Records, key, signer, nil)
	if err != nil || !bytes.Equal(again, env) {
		t.Fatalf("version 2 no longer re-encodes identically: %v", err)
	}
	b, err := Open(env, key, signerLookup(signer))
	if err != nil || len(b.Records) != 2 || b.Header.Version != 2 {
		t.Fatalf("version 2: %v %+v", err, b)
	}
	if err := VerifyDevice(env, fixedVector().deviceKey().Public().(ed25519.PublicKey)); !errors.Is(err, ErrNoDeviceSignature) {
		t.Fatalf("version 2 device signature: %v", err)
	}
}

// TestVersion1Vector opens a batch written by version 1 of the format
// (one column per record), which shared folders still hold: its records
// come out with their one column in Columns.
func TestVersion1Vector(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "batch-vector-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	key, signer := v.keys()
	env, _ := hex.DecodeString(v.Envelope)
	if env[4] != 1 {
		t.Fatalf("vector is version %d", env[4])
	}
	b, err := Open(env, key, signerLookup(signer))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 3 {
		t.Fatalf("%d records", len(b.Records))
	}
	for i, want := range []struct {
		col string
		val *string
	}{{"family", ptr("Núñez")}, {"dob", ptr("1980-03-02")}, {"phone", nil}} {
		r := b.Records[i]
		got, ok := r.Columns[want.col]
		if r.Fields() != 1 || !ok || (got == nil) != (want.val == nil) || (got != nil && *got != *want.val) || r.Column != "" {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	// A version-1 envelope whose records use the version-2 form, and a
	// version-2 envelope with version-1 records, are refused.
	v2 := fixedVector()
	mixed, _, err := sealAs(1, v2.Header, v2.Records, key, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(mixed, key, signerLookup(signer)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("version 1 header with version 2 records: %v", err)
	}
	old, _, err := sealAs(2, v.Header, v.Records, key, signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(old, key, signerLookup(signer)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("version 2 header with version 1 records: %v", err)
	}
	// A version this build does not know yet is told apart from garbage.
	newer, _, err := sealAs(version+1, v2.Header, v2.Records, key, signer, v2.deviceKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(newer, key, signerLookup(signer)); !errors.Is(err, ErrNewerFormat) || errors.Is(err, ErrMalformed) {
		t.Fatalf("a newer format: %v", err)
	}
	// Seal refuses to write a record without columns.
	if _, _, err := Seal(v2.Header, v.Records, key, signer, v2.deviceKey()); err == nil {
		t.Fatal("Seal wrote version 1 records")
	}
}

func ptr(s string) *string { return &s }

func TestTamperVectors(t *testing.T) {
	v := fixedVector()
	key, signer := v.keys()
	device := v.deviceKey()
	env, _, _ := seal(v.Header, v.Records, key, signer, device)
	other := v
	other.Header.VaultID = "0190a1b2-c3d4-7e5f-8a9b-ffffffffffff"
	foreign, _, _ := seal(other.Header, v.Records, key, signer, device)
	_, impostor, _ := ed25519.GenerateKey(nil)
	forged, _, _ := seal(v.Header, v.Records, key, impostor, device)
	otherDevice, _, _ := seal(v.Header, v.Records, key, signer, impostor)
	wrongKey := bytes.Repeat([]byte{9}, 32)
	flip := func(i int) []byte { b := append([]byte{}, env...); b[i] ^= 1; return b }
	cases := []struct {
		name string
		env  []byte
		key  []byte
		want error
	}{
		{"bit flipped in the ciphertext", flip(len(env) - 100), key, ErrDecrypt},
		{"bit flipped in the header (seq)", flip(50), key, ErrDecrypt},
		{"truncated", env[:len(env)-1], key, ErrDecrypt},
		{"cut to the header", env[:headerSize+4], key, ErrMalformed},
		{"not a batch", []byte("PK\x03\x04 a zip file"), key, ErrMalformed},
		{"sealed under another key (an old epoch)", env, wrongKey, ErrDecrypt},
		{"signed by someone else", forged, key, ErrBadSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Open(c.env, c.key, signerLookup(signer)); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	h, err := ParseHeader(foreign)
	if err != nil || h.VaultID == v.Header.VaultID {
		t.Fatal("another vault's batch not told apart by its header")
	}
	// The device signature, checked without the sync key.
	pub := device.Public().(ed25519.PublicKey)
	for _, c := range []struct {
		name string
		env  []byte
		want error
	}{
		{"signed by another device", otherDevice, ErrBadDeviceSignature},
		{"bit flipped in the device signature", flip(len(env) - 1), ErrBadDeviceSignature},
		{"bit flipped in the ciphertext", flip(len(env) - 100), ErrBadDeviceSignature},
		{"bit flipped in the header", flip(50), ErrBadDeviceSignature},
		{"cut to the header", env[:headerSize+4], ErrMalformed},
	} {
		t.Run("device: "+c.name, func(t *testing.T) {
			if err := VerifyDevice(c.env, pub); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if err := VerifyDevice(env, pub); err != nil {
		t.Fatalf("genuine: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	v := fixedVector()
	key, signer := v.keys()
	env, _, _ := seal(v.Header, v.Records, key, signer, v.deviceKey())
	f.Add(env)
	f.Add(env[:headerSize])
	f.Add([]byte("CVSB"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Open(data, key, signerLookup(signer))
		if err == nil && b == nil {
			t.Fatal("nil batch without error")
		}
		ParseHeader(data)
		VerifyDevice(data, signer.Public().(ed25519.PublicKey))
	})
}

func TestVersionVectorCompare(t *testing.T) {
	cases := []struct {
		name string
		a, b VersionVector
		want Ordering
	}{
		{"equal", VersionVector{"a": 1, "b": 2}, VersionVector{"a": 1, "b": 2}, Equal},
		{"greater", VersionVector{"a": 2, "b": 2}, VersionVector{"a": 1, "b": 2}, Greater},
		{"lesser", VersionVector{"a": 1}, VersionVector{"a": 1, "b": 1}, Lesser},
		{"concurrent", VersionVector{"a": 2, "b": 1}, VersionVector{"a": 1, "b": 2}, Concurrent},
		{"empty", VersionVector{}, VersionVector{}, Equal},
	}
	for _, c := range cases {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
